//! Slow and stalled clients cannot starve others of the memory budget.
