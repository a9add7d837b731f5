-- Outcomes corrected after a review (TrainingOutcomeCorrected), revoked certificates
-- (CertificateRevoked) and the reviews themselves (OutcomeReviewChanged): the review is one more
-- part of a participant's row, and each training counts its open reviews.
ALTER TABLE participants ADD COLUMN review_status text, ADD COLUMN review_at timestamptz, ADD COLUMN review_event uuid;
ALTER TABLE training_stats ADD COLUMN reviews_open integer NOT NULL DEFAULT 0;
