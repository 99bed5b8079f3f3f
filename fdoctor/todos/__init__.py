"""Who must act next (待办): what cannot be computed or is waiting for someone, by unit and role."""
