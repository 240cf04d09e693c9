//! The embedded database's connections: one owned writer thread and a few readers.
//!
//! Every write runs on the writer thread, which takes whatever writes are waiting (up to
//! `MAX_BATCH`), runs each inside its own SAVEPOINT of one `BEGIN IMMEDIATE` transaction, and
//! commits once: a failed write rolls back only its own savepoint, and nobody hears back before
//! the commit (so a reply always describes durable state). Reads of a file database run on
//! separate connections (WAL lets them proceed while the writer works) and see only committed
//! data; an in-memory database has one connection, so its reads queue with the writes.
//! Statements are prepared once per connection (`prepare_cached`).
//!
//! An in-memory database (tests, benchmarks) also runs a job on the caller's thread when the
//! writer is idle (nothing queued, its connection free): the hand-off to the writer thread and
//! the wake-up of the caller were most of what one write cost there. A file database always
//! goes through the writer thread: its commit may run a checkpoint, milliseconds of disk work
//! that must not hold up a runtime thread.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, Sender, TryRecvError, channel};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::Connection;

use rampart_store::StoreError;

use crate::error::unavailable;

/// Writes committed together at most (bounds the latency one commit adds to the first).
const MAX_BATCH: usize = 128;
/// Read connections of a file database.
const READERS: usize = 2;
/// Prepared statements kept per connection.
const STATEMENT_CACHE: usize = 64;

type Reply = Box<dyn FnOnce(Option<&StoreError>) + Send>;
type WriteJob = Box<dyn WriteTask>;
type ReadJob = Box<dyn FnOnce(&Connection) + Send>;

/// One caller's write: run it (saying whether it succeeded and how to answer once the batch
/// is committed or not), or answer at once without running it.
trait WriteTask: Send {
    fn run(self: Box<Self>, conn: &Connection) -> (bool, Reply);
    fn fail(self: Box<Self>, err: StoreError);
}

struct Task<T, F> {
    f: F,
    reply: tokio::sync::oneshot::Sender<Result<T, StoreError>>,
}

impl<T, F> WriteTask for Task<T, F>
where
    T: Send + 'static,
    F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
{
    fn run(self: Box<Self>, conn: &Connection) -> (bool, Reply) {
        let Task { f, reply } = *self;
        let out = f(conn);
        let ok = out.is_ok();
        let answer: Reply = Box::new(move |commit_err| {
            let _ = reply.send(match commit_err {
                Some(e) => Err(StoreError::unavailable(e.to_string())),
                None => out,
            });
        });
        (ok, answer)
    }

    fn fail(self: Box<Self>, err: StoreError) {
        let _ = self.reply.send(Err(err));
    }
}

enum Job {
    Write(WriteJob),
    Read(ReadJob),
}

/// The embedded store's and queue's database, shared by both within a process.
#[derive(Clone)]
pub struct Db {
    writer: Sender<Job>,
    /// `None` for an in-memory database: its one connection also serves the reads.
    readers: Option<Sender<ReadJob>>,
    /// The writer's connection, and for an in-memory database the jobs sent to the writer and
    /// not yet run: a caller finding none and the connection free runs its job itself.
    shared: Arc<Shared>,
}

struct Shared {
    conn: Mutex<Connection>,
    queued: AtomicUsize,
    inline: bool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The connection, when this database runs jobs inline and the writer is idle.
    fn idle(&self) -> Option<MutexGuard<'_, Connection>> {
        if !self.inline || self.queued.load(Ordering::Acquire) > 0 {
            return None;
        }
        self.conn.try_lock().ok()
    }
}

fn gone() -> StoreError {
    StoreError::unavailable("sqlite worker stopped")
}

impl Db {
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| {
                StoreError::unavailable_from(format!("cannot create {}: {e}", dir.display()), e)
            })?;
        }
        let writer = configure(Connection::open(path).map_err(unavailable)?)?;
        crate::schema::create(&writer)?;
        let (rtx, rrx) = channel::<ReadJob>();
        let rrx = Arc::new(Mutex::new(rrx));
        for i in 0..READERS {
            let conn = configure(Connection::open(path).map_err(unavailable)?)?;
            let rrx = rrx.clone();
            std::thread::Builder::new()
                .name(format!("sqlite-read-{i}"))
                .spawn(move || read_loop(conn, rrx))
                .map_err(|e| {
                    StoreError::unavailable_from(format!("cannot start reader: {e}"), e)
                })?;
        }
        let (writer, shared) = spawn_writer(writer, false)?;
        Ok(Self {
            writer,
            readers: Some(rtx),
            shared,
        })
    }

    /// A private in-memory database (tests and benchmarks).
    pub fn in_memory() -> Result<Self, StoreError> {
        let conn = configure(Connection::open_in_memory().map_err(unavailable)?)?;
        crate::schema::create(&conn)?;
        let (writer, shared) = spawn_writer(conn, true)?;
        Ok(Self {
            writer,
            readers: None,
            shared,
        })
    }

    /// Whether `other` is a handle on this same database.
    pub fn same(&self, other: &Db) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }

    /// Runs `f` in the writer's transaction, under its own savepoint: an `Err` undoes exactly
    /// what `f` wrote. Answers after the commit.
    pub async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        if let Some(conn) = self.shared.idle() {
            return write_alone(&conn, f);
        }
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: WriteJob = Box::new(Task { f, reply: tx });
        self.send(Job::Write(job))?;
        rx.await.map_err(|_| gone())?
    }

    fn send(&self, job: Job) -> Result<(), StoreError> {
        self.shared.queued.fetch_add(1, Ordering::AcqRel);
        self.writer.send(job).map_err(|_| {
            self.shared.queued.fetch_sub(1, Ordering::AcqRel);
            gone()
        })
    }

    /// Runs `f` on a read connection: it sees committed data only.
    pub async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: ReadJob = Box::new(move |conn| {
            let _ = tx.send(f(conn));
        });
        match &self.readers {
            Some(r) => r.send(job).map_err(|_| gone())?,
            None => {
                if let Some(conn) = self.shared.idle() {
                    let _ = catch_unwind(AssertUnwindSafe(|| job(&conn)));
                } else {
                    self.send(Job::Read(job))?;
                }
            }
        }
        rx.await.map_err(|_| gone())?
    }
}

fn configure(conn: Connection) -> Result<Connection, StoreError> {
    conn.busy_timeout(Duration::from_secs(10))
        .map_err(unavailable)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    // WAL with NORMAL sync: a commit appends to the log without an fsync (the log is synced at
    // checkpoints), durable across a process crash, which is what a development store needs.
    // The rest keeps the one writer thread, the local stack's bottleneck under load, off the
    // disk: the file mapped into memory serves reads without pread, and a checkpoint every
    // 4,096 pages (16 MiB of log) instead of SQLite's 1,000 writes a page that changed many
    // times in between once, with fewer fsyncs. The page cache stays SQLite's default: a
    // 64 MiB one measured slower under load (its truncation walks grew with it).
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;
         PRAGMA mmap_size = 268435456; PRAGMA wal_autocheckpoint = 4096; PRAGMA temp_store = MEMORY;",
    )
    .map_err(unavailable)?;
    Ok(conn)
}

fn spawn_writer(conn: Connection, inline: bool) -> Result<(Sender<Job>, Arc<Shared>), StoreError> {
    let (tx, rx) = channel::<Job>();
    let shared = Arc::new(Shared {
        conn: Mutex::new(conn),
        queued: AtomicUsize::new(0),
        inline,
    });
    let writer = shared.clone();
    std::thread::Builder::new()
        .name("sqlite-write".into())
        .spawn(move || write_loop(&writer, rx))
        .map_err(|e| StoreError::unavailable_from(format!("cannot start writer: {e}"), e))?;
    Ok((tx, shared))
}

/// One job in a transaction of its own, on the caller's thread; answers after the commit.
fn write_alone<T, F>(conn: &Connection, f: F) -> Result<T, StoreError>
where
    F: FnOnce(&Connection) -> Result<T, StoreError>,
{
    control(conn, "BEGIN IMMEDIATE").map_err(unavailable)?;
    match catch_unwind(AssertUnwindSafe(|| f(conn))) {
        Ok(Ok(v)) => match control(conn, "COMMIT") {
            Ok(()) => Ok(v),
            Err(e) => {
                let _ = control(conn, "ROLLBACK");
                Err(unavailable(e))
            }
        },
        Ok(Err(e)) => {
            let _ = control(conn, "ROLLBACK");
            Err(e)
        }
        Err(_) => {
            let _ = control(conn, "ROLLBACK");
            Err(gone())
        }
    }
}

fn read_loop(conn: Connection, jobs: Arc<Mutex<Receiver<ReadJob>>>) {
    loop {
        let job = {
            let Ok(rx) = jobs.lock() else { return };
            match rx.recv() {
                Ok(j) => j,
                Err(_) => return,
            }
        };
        // A panicking job drops its reply sender: its caller sees the store as unavailable.
        let _ = catch_unwind(AssertUnwindSafe(|| job(&conn)));
    }
}

fn write_loop(shared: &Shared, jobs: Receiver<Job>) {
    while let Ok(first) = jobs.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(j) => batch.push(j),
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
            }
        }
        let n = batch.len();
        run_batch(&shared.lock(), batch);
        shared.queued.fetch_sub(n, Ordering::AcqRel);
    }
}

/// Runs one transaction-control statement, prepared once per connection: parsing them for every
/// write was a visible share of the writer thread's time.
fn control(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(|_| ())
}

fn run_batch(conn: &Connection, batch: Vec<Job>) {
    if let Err(e) = control(conn, "BEGIN IMMEDIATE") {
        let err = unavailable(e);
        for job in batch {
            match job {
                // The job never runs; its reply carries the error.
                Job::Write(w) => w.fail(StoreError::unavailable(err.to_string())),
                Job::Read(r) => {
                    let _ = catch_unwind(AssertUnwindSafe(|| r(conn)));
                }
            }
        }
        return;
    }
    let mut replies = Vec::with_capacity(batch.len());
    for job in batch {
        match job {
            Job::Read(r) => {
                let _ = catch_unwind(AssertUnwindSafe(|| r(conn)));
            }
            Job::Write(w) => {
                if let Err(e) = control(conn, "SAVEPOINT job") {
                    w.fail(unavailable(e));
                    continue;
                }
                match catch_unwind(AssertUnwindSafe(|| w.run(conn))) {
                    Ok((true, reply)) => {
                        let _ = control(conn, "RELEASE job");
                        replies.push(reply);
                    }
                    Ok((false, reply)) => {
                        let _ = control(conn, "ROLLBACK TO job").and(control(conn, "RELEASE job"));
                        replies.push(reply);
                    }
                    // Its reply sender is gone with the panic; undo what it wrote.
                    Err(_) => {
                        let _ = control(conn, "ROLLBACK TO job").and(control(conn, "RELEASE job"));
                    }
                }
            }
        }
    }
    let committed = control(conn, "COMMIT").map_err(unavailable);
    if committed.is_err() {
        let _ = control(conn, "ROLLBACK");
    }
    for reply in replies {
        reply(committed.as_ref().err());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn counter(db: &Db) -> i64 {
        db.read(|c| {
            c.query_row("SELECT v FROM n", [], |r| r.get(0))
                .map_err(unavailable)
        })
        .await
        .unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_writes_on_the_callers_threads_and_the_writers_all_land_once() {
        let db = Db::in_memory().unwrap();
        db.write(|c| {
            c.execute_batch("CREATE TABLE n (v INTEGER); INSERT INTO n VALUES (0);")
                .map_err(unavailable)
        })
        .await
        .unwrap();
        let tasks: Vec<_> = (0..300)
            .map(|_| {
                let db = db.clone();
                tokio::spawn(async move {
                    db.write(|c| {
                        c.execute("UPDATE n SET v = v + 1", [])
                            .map(|_| ())
                            .map_err(unavailable)
                    })
                    .await
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        assert_eq!(counter(&db).await, 300);
        let failed = db
            .write(|c| {
                c.execute("UPDATE n SET v = 0", []).map_err(unavailable)?;
                Err::<(), _>(StoreError::unavailable("refused after writing"))
            })
            .await;
        assert!(failed.is_err());
        assert_eq!(
            counter(&db).await,
            300,
            "a failed write leaves nothing behind"
        );
    }
}
