"""People who sign in to the web UI: change managers and customers' staff, their
passwords, access grants, sign-in throttling, invitations, and what the portal shows."""
