-- Daily moments, recomputed by RefreshMoments with INSERT ... SELECT from the
-- raw tables. Every refresh writes all cells of its days under a new version
-- and then records that version for each day in moments_refreshes. Readers
-- take, for each day, only the cells of the day's newest recorded version:
-- they never see a refresh half written, and a cell that a newer refresh no
-- longer produces (an outcome re-attributed to an earlier exposure) is gone.
-- The cell tables are plain MergeTree: a merge never drops a version, so a
-- refresh that failed half way (written, not recorded) can never replace
-- the recorded cells. Superseded versions stay until pruned; a day's cells
-- number in the hundreds, and the calibrator refreshes only new days.
CREATE TABLE IF NOT EXISTS {db}.exposure_moments_daily (
    day             Date,
    segment_id      String,
    channel         String,
    campaign_id     String,
    intervention_id String,
    arm             String,
    exposures       UInt64,
    entities        UInt64,
    cost            Float64,
    freq_sum        UInt64,
    version         UInt64
) ENGINE = MergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (day, version, campaign_id, segment_id, channel, intervention_id, arm);

CREATE TABLE IF NOT EXISTS {db}.outcome_moments_daily (
    day             Date,
    segment_id      String,
    channel         String,
    campaign_id     String,
    intervention_id String,
    arm             String,
    outcome_type    String,
    outcomes        UInt64,
    entities        UInt64,
    value_sum       Float64,
    value_sum_sq    Float64,
    version         UInt64
) ENGINE = MergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (day, version, campaign_id, segment_id, channel, intervention_id, arm, outcome_type);

CREATE TABLE IF NOT EXISTS {db}.moments_refreshes (
    day          Date,
    version      UInt64,
    refreshed_at DateTime('UTC')
) ENGINE = ReplacingMergeTree(version)
ORDER BY day
