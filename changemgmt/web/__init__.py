"""The web process: feed serving for now; the UI and API mount beside it later."""
