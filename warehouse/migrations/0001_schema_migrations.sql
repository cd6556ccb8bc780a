-- Applied migrations. Migrate reads DISTINCT versions, so a version recorded
-- twice by two processes migrating at once does no harm.
CREATE TABLE IF NOT EXISTS {db}.schema_migrations (
    version    UInt32,
    name       String,
    applied_at DateTime('UTC')
) ENGINE = MergeTree()
ORDER BY version
