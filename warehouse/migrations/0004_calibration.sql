-- The calibrator's tables: its watermarks, the drift events it raises and
-- the calibration snapshots it publishes.
--
-- calibration_watermarks: one row per SetWatermark. The newest write wins:
-- readers take argMax(watermark, version), and ReplacingMergeTree(version)
-- keeps the same row when parts merge. version is the wall clock in
-- nanoseconds (strictly increasing within a process), not updated_at, so
-- that two writes within one second still have an order.
CREATE TABLE IF NOT EXISTS {db}.calibration_watermarks (
    scope      String,
    watermark  DateTime('UTC'),
    updated_at DateTime('UTC'),
    version    UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY scope;

-- drift_events: one row per drift alarm. InsertDriftEvents stores an
-- event_id only once (check, then insert), and ReplacingMergeTree collapses
-- a copy that got past the check when parts merge: all copies of an event
-- share scope, detected_at and event_id, hence the sort key. Readers
-- deduplicate by event_id in the meantime, as they do on the raw tables.
CREATE TABLE IF NOT EXISTS {db}.drift_events (
    event_id     String,
    scope        String,
    moment       String,
    detector     String,
    statistic    Float64,
    threshold    Float64,
    magnitude    Float64,
    window_start DateTime('UTC'),
    window_end   DateTime('UTC'),
    detected_at  DateTime('UTC'),
    details      String,
    inserted_at  DateTime('UTC')
) ENGINE = ReplacingMergeTree(inserted_at)
ORDER BY (scope, detected_at, event_id);

-- calibration_snapshots: one row per published version of a scope's
-- calibration; body is the JSON document. Storing a version twice leaves
-- one copy after a merge; readers take the highest version.
CREATE TABLE IF NOT EXISTS {db}.calibration_snapshots (
    scope      String,
    version    UInt64,
    created_at DateTime('UTC'),
    body       String
) ENGINE = ReplacingMergeTree(created_at)
ORDER BY (scope, version)
