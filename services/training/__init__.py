"""Training delivery: trainings, rosters, attendance, assessments, OJT and completion."""
