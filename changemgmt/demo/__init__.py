"""The demo: a realistic sample inventory and a few weeks of change management replayed
at their own moments (`changemgmt demo`)."""
