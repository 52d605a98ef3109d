from changemgmt.cli.main import main

main()
