"""Per-region skin features measured on one photo (wrinkles, …)."""
