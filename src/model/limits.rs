//! Hard limits that a scenario must respect. They are checked before anything is
//! allocated, so a hostile or mistyped file ("10^12 instances") is refused with a clear
//! error instead of exhausting memory. They are far beyond any realistic topology.

/// Largest scenario file accepted, in bytes.
pub const MAX_FILE_BYTES: u64 = 8 * 1024 * 1024;
/// Deepest nesting of brackets the parser follows.
pub const MAX_PARSE_DEPTH: usize = 128;
pub const MAX_COMPONENTS: usize = 1_000;
pub const MAX_ENDPOINTS: usize = 1_000;
pub const MAX_INSTANCES_PER_TIER: u32 = 10_000;
pub const MAX_INSTANCES_TOTAL: u64 = 100_000;
pub const MAX_CORES: u32 = 1_024;
/// Slowest and fastest core relative to the reference core CPU steps are measured on.
pub const MIN_CPU_SPEED: f64 = 0.01;
pub const MAX_CPU_SPEED: f64 = 100.0;
pub const MAX_WORKERS: u32 = 100_000;
pub const MAX_IN_FLIGHT: u32 = 1_000_000;
pub const MAX_ACCEPT_QUEUE: u32 = 1_000_000;
pub const MAX_POOL_SIZE: u32 = 10_000;
pub const MAX_DB_CONNECTIONS: u32 = 1_000_000;
pub const MAX_REPLICAS: u32 = 64;
pub const MAX_USERS: u32 = 1_000_000;
pub const MAX_SESSIONS: u32 = 1_000_000_000;
pub const MAX_RATE_PER_SEC: f64 = 10_000_000.0;
pub const MAX_DURATION_SECS: f64 = 7.0 * 24.0 * 3600.0;
pub const MIN_SAMPLE_INTERVAL_SECS: f64 = 0.001;
/// Longest duration a distribution parameter may name (one day), in milliseconds.
pub const MAX_DURATION_MS: f64 = 24.0 * 3600.0 * 1000.0;
pub const MAX_EMPIRICAL_VALUES: usize = 100_000;
pub const MAX_CACHE_CAPACITY: u64 = 10_000_000;
/// Keys held by all copies of local caches together (each instance has its own copy).
pub const MAX_LOCAL_CACHE_ENTRIES_TOTAL: u64 = 20_000_000;
pub const MAX_CACHE_KEYS: u64 = 1_000_000_000_000;
pub const MAX_REPEAT: u32 = 10_000;
/// Steps nested inside `Repeat`, `Branch` and `CacheGet` blocks.
pub const MAX_STEP_NESTING: usize = 8;
/// Most steps a single request may execute (repeat counts multiplied out).
pub const MAX_STEPS_PER_REQUEST: u64 = 100_000;
pub const MAX_PROFILE_POINTS: usize = 10_000;
/// Service-level objectives of one scenario.
pub const MAX_SLOS: usize = 100;
/// Steps a lesson's checklist may have.
pub const MAX_LESSON_STEPS: usize = 20;
/// Changes recorded in a scenario's timeline.
pub const MAX_TIMELINE_CHANGES: usize = 10_000;
/// Retries a client may make of one request.
pub const MAX_RETRIES: u32 = 20;
/// Highest price per hour of one component, in dollars.
pub const MAX_PRICE_PER_HOUR: f64 = 1_000_000.0;
/// Jobs a queue's broker may hold waiting.
pub const MAX_QUEUE_CAPACITY: u32 = 10_000_000;
/// Shards of one database.
pub const MAX_SHARDS: u32 = 64;
/// Connection pools of all instances together (instances × databases × shards, twice
/// with replicas): each is a small structure the engine allocates.
pub const MAX_POOLS_TOTAL: u64 = 2_000_000;
/// Database nodes (primaries and replicas of every shard) of all databases together.
pub const MAX_DB_NODES_TOTAL: u64 = 10_000;
/// Writes still replicating (keys and sessions) a database remembers at most, to count
/// stale reads and send a session's reads to the primary; beyond it, writes go untracked.
pub const MAX_REMEMBERED_WRITES: u64 = 1_000_000;
/// Memory of one instance, or held by one request, in MB (a terabyte).
pub const MAX_MEMORY_MB: f64 = 1_048_576.0;
/// Sessions a client may have when they are kept in instances' memory (each held
/// session is remembered).
pub const MAX_IN_MEMORY_SESSIONS: u32 = 10_000_000;
