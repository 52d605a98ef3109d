"""The long-running work: the tick (what falls due as time passes) that the clock runs,
and the worker's loop. Above gcrs, planning, delivery and feeds, which it drives."""
