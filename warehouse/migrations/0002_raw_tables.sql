-- Raw event tables, one column per field of the schemas types; maps are JSON
-- text. Every table keeps the Kafka coordinates the row was read from and the
-- time it was stored (the ReplacingMergeTree version).
--
-- The sort key is (event time, event_id): the insert-time duplicate lookup
-- filters on the time range of the batch and on event_id IN (...), so it
-- reads only the granules of that range. A live stream's batch spans
-- seconds, so the lookup stays small however large the table grows (with
-- the hour as the first key column it read the whole hour, every batch).
-- ReplacingMergeTree collapses a duplicate that got past the lookup (same
-- event, hence same time, same partition, same key) when parts merge: it is
-- the second line of defence, and readers deduplicate by event_id anyway.
--
-- Exposures and outcomes are partitioned by month of the event time (one
-- insert may span at most max_partitions_per_insert_block = 100 months, far
-- more than a Kafka batch does). The three dimension tables are not
-- partitioned: their times (an entity's created_at) span decades, and an
-- insert block spread over hundreds of monthly partitions would make
-- hundreds of parts, or fail outright.
CREATE TABLE IF NOT EXISTS {db}.entities (
    event_id        String,
    entity_id       String,
    segment_id      String,
    created_at      DateTime('UTC'),
    lifecycle_stage String,
    value_tier      String,
    attributes      String,
    _topic          String,
    _partition      Int32,
    _offset         Int64,
    ingested_at     DateTime('UTC')
) ENGINE = ReplacingMergeTree(ingested_at)
ORDER BY (created_at, event_id);

CREATE TABLE IF NOT EXISTS {db}.exposures (
    event_id             String,
    exposure_id          String,
    entity_id            String,
    segment_id           String,
    timestamp            DateTime('UTC'),
    channel              String,
    campaign_id          String,
    intervention_id      String,
    arm                  String,
    content              String,
    cost                 Float64,
    frequency_cumulative Int64,
    metadata             String,
    _topic               String,
    _partition           Int32,
    _offset              Int64,
    ingested_at          DateTime('UTC')
) ENGINE = ReplacingMergeTree(ingested_at)
PARTITION BY toYYYYMM(timestamp)
ORDER BY (timestamp, event_id);

CREATE TABLE IF NOT EXISTS {db}.outcomes (
    event_id     String,
    outcome_id   String,
    entity_id    String,
    timestamp    DateTime('UTC'),
    outcome_type String,
    value        Float64,
    campaign_id  String,
    metadata     String,
    _topic       String,
    _partition   Int32,
    _offset      Int64,
    ingested_at  DateTime('UTC')
) ENGINE = ReplacingMergeTree(ingested_at)
PARTITION BY toYYYYMM(timestamp)
ORDER BY (timestamp, event_id);

CREATE TABLE IF NOT EXISTS {db}.interventions (
    event_id           String,
    intervention_id    String,
    type               String,
    created_at         DateTime('UTC'),
    content_template   String,
    creative_elements  String,
    targeting_criteria String,
    metadata           String,
    _topic             String,
    _partition         Int32,
    _offset            Int64,
    ingested_at        DateTime('UTC')
) ENGINE = ReplacingMergeTree(ingested_at)
ORDER BY (created_at, event_id);

CREATE TABLE IF NOT EXISTS {db}.segments (
    event_id           String,
    segment_id         String,
    updated_at         DateTime('UTC'),
    definition         String,
    size               Int64,
    trait_priors       String,
    historical_metrics String,
    metadata           String,
    _topic             String,
    _partition         Int32,
    _offset            Int64,
    ingested_at        DateTime('UTC')
) ENGINE = ReplacingMergeTree(ingested_at)
ORDER BY (updated_at, event_id)
