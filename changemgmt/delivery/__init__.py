"""Delivery: claiming due deliveries, composing and rendering each notice, sending it
through a transport, recording every attempt and its outcome, and SendGrid's events.
It never plans: what to send is already in the outbox."""
