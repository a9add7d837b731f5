"""Registration: org units, facilitators, and their enrollments into trainings."""
