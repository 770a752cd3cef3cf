//! A database of its own for each test, on the backend the suite runs on.

/// A database of its own for one test: a SQLite file in a temp directory,
/// or, when `CHAT_TEST_DATABASE=postgres` (what `make test`'s second pass
/// sets), a PostgreSQL cluster of its own. Every test that stores anything
/// gets its database here, so the whole suite runs on either backend.
pub struct Database {
    pub url: String,
    pub backend: Backend,
}

pub enum Backend {
    Sqlite(tempfile::TempDir),
    Postgres(server::testing::PostgresServer),
}

impl Database {
    /// The backend the suite runs on.
    pub async fn new() -> Self {
        match std::env::var("CHAT_TEST_DATABASE").as_deref() {
            Ok("postgres") => Self::postgres().await,
            Ok("sqlite") | Ok("") | Err(_) => Self::sqlite(),
            Ok(other) => panic!("CHAT_TEST_DATABASE={other}: expected sqlite or postgres"),
        }
    }

    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        Self {
            url: format!("sqlite://{}/chat.db", dir.path().display()),
            backend: Backend::Sqlite(dir),
        }
    }

    pub async fn postgres() -> Self {
        let cluster = server::testing::PostgresServer::start();
        Self {
            url: cluster.new_database("chat").await,
            backend: Backend::Postgres(cluster),
        }
    }

    pub async fn open(&self) -> server::storage::Storage {
        server::storage::Storage::open(&self.url).await.unwrap()
    }
}
