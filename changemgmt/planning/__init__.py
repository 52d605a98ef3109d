"""Planning: what a GCR change or the passing of time means for each customer, written
as outbox rows (notices, deliveries, recipients), audiences and calendar events, in the
transaction of the change. It never renders or sends."""
