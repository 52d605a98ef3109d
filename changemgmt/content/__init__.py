"""What a customer is shown of a GCR, as plain data and bytes: the notice view types, the
service lines, the "what changed" lines and the BCOP iCalendar event builder. Pure: it
imports only the domain (and icalendar), so planning, delivery and feeds all build on it."""
