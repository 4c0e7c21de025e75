-- Deletes every analytics row of the people whose erasure finished (docs/analytics.md,
-- "Pseudonymisation and erasure"): run monthly by the scheduled query in analytics_erasure.tf.
-- Erasure (focus.services.privacy.erasure) publishes `erasure_completed` with the person_id the
-- person's secret gave before it was deleted: that row is the list of whose rows go. It stays
-- (a random id and a time: the count of erasures).
--
-- Both reads name an event_time range: analytics.events refuses a query without a filter on its
-- partition column (require_partition_filter), and 760 days is its whole retention
-- (local.analytics_retention_days). Erasures of the last day wait for the next run: a person's
-- last events may still be arriving, and rows streamed in the last 30 minutes may not be
-- deletable yet.
DELETE FROM analytics.events
WHERE event_time >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 760 DAY)
  AND event_name != 'erasure_completed'
  AND person_id IN (
    SELECT person_id
    FROM analytics.events
    WHERE event_name = 'erasure_completed'
      AND event_time >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 760 DAY)
      AND event_time < TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 1 DAY)
  );
