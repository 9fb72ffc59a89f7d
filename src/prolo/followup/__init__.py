"""Follow-up: the schedule of time points, due questionnaires, patient links, reminders."""
