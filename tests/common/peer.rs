//! A real Mastodon-API server on loopback, for integration tests.
//!
//! The peer is mastodon-mock 0.6.1 (PyPI), a FastAPI app that implements the Mastodon REST API
//! over an in-memory SQLite database (see `../shared/MASTODON_PEER.md`). It is third-party code:
//! treat it as a real peer with its own quirks, not as a mock this crate controls.
//!
//! Include it from a test file with
//!
//! ```ignore
//! #[path = "common/peer.rs"]
//! mod peer;
//! ```
//!
//! Everything here is blocking and panics with the server's answer on failure: it is test
//! scaffolding, and a panic with the body in it is the most useful report a test can give. It
//! works from `#[tokio::test]` bodies too (see `off_runtime`), but blocks the calling thread:
//! in a current-thread runtime, seed before starting the async code under test.
//!
//! Quirks of the server worth knowing when writing tests on it:
//! - Ids are decimal strings from one counter per server process, shared by every table (apps,
//!   accounts, statuses...), starting at the process's start time in epoch milliseconds. Two
//!   peers therefore hand out overlapping ids for different posts, as two real instances would.
//! - A status's `uri` equals its `url`: `http://127.0.0.1:PORT/@username/ID`.
//! - `content` is the text with `<`, `>`, `&` escaped (quotes are not), URLs linked, and
//!   `**bold**`, `*italic*`, `` `code` `` and `~~strike~~` turned into HTML (real Mastodon does
//!   none of the last four), in `<p>` per blank-line-separated block, `<br />` per newline.
//! - Unless its config has a `[seed]` section (as `start_seeded`'s has), a peer starts with one
//!   account, `testuser` (token `mock_token`).
//! - Profile updates are read from form bodies only (a JSON body is silently ignored), and
//!   `note` is stored and returned verbatim (no HTML rendering). `noindex` is always `null` and
//!   `indexable` always `false`: neither can be set.
//! - Fault rules match the request path only (never the query string), exactly or as an
//!   `fnmatch` glob when the pattern contains `*` (where `*` also matches `/`), or by regex.
//!   `count: 0` fires once, like `count: 1`, so the helpers refuse it.
#![allow(dead_code)]

use std::collections::{BTreeSet, HashSet};
use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use reqwest::blocking::{Client, RequestBuilder};
use reqwest::header::HeaderMap;
use serde_json::{json, Value};

/// The one version of the server these tests are written against.
pub const MOCK_PACKAGE: &str = "mastodon-mock==0.6.1";
/// Everything the tests' venv holds: the peer, networkx to read the graph exports back, and
/// DuckDB to query the Parquet export.
pub const VENV_PACKAGES: &[&str] = &[MOCK_PACKAGE, "networkx==3.4.2", "duckdb==2.0.1"];

/// Env var naming an installed `mastodon_mock` executable, to skip creating the venv.
pub const MOCK_ENV: &str = "RETHREAD_MASTODON_MOCK";

/// How long one waits for another test process to finish building the shared venv.
const VENV_LOCK_WAIT: Duration = Duration::from_secs(5 * 60);

/// How long a server gets to answer `/health` (it usually takes 1-2 s), plus `SEED_WAIT` for
/// each post it seeds from its config first.
const STARTUP_WAIT: Duration = Duration::from_secs(30);
const SEED_WAIT: Duration = Duration::from_millis(10);

/// Fresh ports tried when the one picked was taken before the server could bind it.
const START_ATTEMPTS: usize = 5;

/// Path of the `mastodon_mock` executable, installing it on first use.
///
/// `RETHREAD_MASTODON_MOCK` wins when set. Otherwise a venv at `target/peer-venv` in the crate
/// is used, created with `python3 -m venv` and pip (about 10 s and 100 MB, PyPI must be
/// reachable). Test binaries and threads may call this at once: one builds the venv under an
/// exclusive lock file and the others wait for it.
pub fn mock_bin() -> PathBuf {
    // Within one test binary, `get_or_init` makes the other threads wait for the first one;
    // across binaries, the lock file in `ensure_venv` does.
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(path) = std::env::var_os(MOCK_ENV) {
            let path = PathBuf::from(path);
            assert!(
                path.is_file(),
                "{MOCK_ENV}={} is not a file: point it at an installed mastodon_mock executable",
                path.display()
            );
            return path;
        }
        let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("target");
        let venv = target.join("peer-venv");
        ensure_venv(&target, &venv);
        venv.join("bin").join("mastodon_mock")
    })
    .clone()
}

/// The tests' Python (with networkx), from the same venv as the peer, built on first use.
pub fn venv_python() -> PathBuf {
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("target");
    let venv = target.join("peer-venv");
    ensure_venv(&target, &venv);
    venv.join("bin").join("python")
}

/// Build the venv at `venv` unless a complete one is already there.
///
/// A venv cannot be built elsewhere and renamed into place: pip writes the venv's absolute
/// path into the scripts' `#!` lines. So it is built in place, and a marker file written last
/// says it is complete; a directory without the marker is a crashed build, and is rebuilt.
fn ensure_venv(target: &Path, venv: &Path) {
    let installs: Vec<Vec<&str>> = vec![VENV_PACKAGES.to_vec()];
    build_venv(target, venv, &installs, "mastodon_mock");
}

/// Python with ConvoKit 5.0.0, to load the ConvoKit export: a venv of its own at
/// `target/convokit-venv` (about 410 MB; ConvoKit's full install pulls torch and CUDA wheels,
/// so it is installed without dependencies, plus the ones it needs to load a corpus).
pub fn convokit_python() -> PathBuf {
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("target");
    let venv = target.join("convokit-venv");
    let installs: Vec<Vec<&str>> = vec![
        vec!["--no-deps", "convokit==5.0.0"],
        vec![
            "pandas",
            "numpy",
            "scipy",
            "pymongo",
            "pyyaml",
            "dill",
            "msgpack-numpy",
            "joblib",
            "scikit-learn",
            "requests",
            "tqdm",
        ],
    ];
    build_venv(&target, &venv, &installs, "python");
    venv.join("bin").join("python")
}

/// Python with PySpark 4.1.1 (the first Spark whose SQL has recursive CTEs), to run the
/// README's Spark SQL over the Parquet export in local mode: a venv of its own at
/// `target/spark-venv` (about 500 MB). Spark needs a Java 17+ runtime on the PATH (Debian
/// `default-jre-headless`; `.ci/run` installs it when missing).
pub fn spark_python() -> PathBuf {
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("target");
    let venv = target.join("spark-venv");
    let installs: Vec<Vec<&str>> = vec![vec!["pyspark==4.1.1"]];
    build_venv(&target, &venv, &installs, "python");
    venv.join("bin").join("python")
}

/// Build the venv at `venv` with `installs` (one `pip install` per entry) unless a complete one
/// is already there; `expect` is an executable in `bin/` that must exist afterwards.
pub fn build_venv(target: &Path, venv: &Path, installs: &[Vec<&str>], expect: &str) {
    let marker = venv.join(".rethread-complete");
    let want: String = installs
        .iter()
        .map(|i| i.join(" "))
        .collect::<Vec<_>>()
        .join(" + ");
    let complete = || fs::read_to_string(&marker).is_ok_and(|m| m.trim() == want);
    if complete() {
        return;
    }
    fs::create_dir_all(target)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", target.display()));
    let name = venv.file_name().and_then(|n| n.to_str()).unwrap_or("venv");
    let lock = target.join(format!("{name}.lock"));
    let deadline = Instant::now() + VENV_LOCK_WAIT;
    let _held = loop {
        match OpenOptions::new().write(true).create_new(true).open(&lock) {
            Ok(mut file) => {
                // The holder's pid lets a waiter recognise a lock left by a killed process.
                let _ = write!(file, "{}", std::process::id());
                break LockFile(lock.clone());
            }
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                if complete() {
                    return;
                }
                if lock_is_stale(&lock) {
                    let _ = fs::remove_file(&lock);
                    continue;
                }
                assert!(
                    Instant::now() < deadline,
                    "waited {VENV_LOCK_WAIT:?} for {} (another test building {name}); remove \
                     it if no test is running, or set {MOCK_ENV}",
                    lock.display()
                );
                thread::sleep(Duration::from_millis(250));
            }
            Err(e) => panic!("cannot create {}: {e}", lock.display()),
        }
    };
    // Another process may have finished between our check and taking the lock.
    if complete() {
        return;
    }
    if venv.exists() {
        fs::remove_dir_all(venv)
            .unwrap_or_else(|e| panic!("cannot remove half-built {}: {e}", venv.display()));
    }
    let started = Instant::now();
    run_setup(Command::new("python3").arg("-m").arg("venv").arg(venv));
    for args in installs {
        run_setup(
            Command::new(venv.join("bin").join("pip"))
                .args(["install", "--quiet", "--disable-pip-version-check"])
                .args(args),
        );
    }
    let bin = venv.join("bin").join(expect);
    assert!(
        bin.is_file(),
        "pip installed {want} but {} is missing",
        bin.display()
    );
    fs::write(&marker, &want).unwrap_or_else(|e| panic!("cannot write {}: {e}", marker.display()));
    eprintln!(
        "installed {want} into {} in {:.1?}",
        venv.display(),
        started.elapsed()
    );
}

/// Run one venv-setup command, panicking with its stderr and the way around it on failure.
fn run_setup(cmd: &mut Command) {
    let shown = format!("{cmd:?}");
    let hint = format!(
        "set {MOCK_ENV} to an installed mastodon_mock executable \
         (`pip install {MOCK_PACKAGE}` in any venv) to skip this step"
    );
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {shown}: {e}; {hint}"));
    assert!(
        out.status.success(),
        "{shown} failed ({}):\n{}\n{hint}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Removes the venv lock file when the build ends, successfully or by a panic.
struct LockFile(PathBuf);

impl Drop for LockFile {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

/// Whether the process that took `lock` is gone, so the lock will never be released.
fn lock_is_stale(lock: &Path) -> bool {
    let pid = fs::read_to_string(lock)
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok());
    // /proc is how std alone can ask whether a pid is alive.
    if let (Some(pid), true) = (pid, cfg!(target_os = "linux")) {
        return !Path::new(&format!("/proc/{pid}")).exists();
    }
    // Otherwise only the lock's age tells. Without a pid the holder may be between creating
    // the file and writing it, which takes microseconds, not a minute.
    let age = fs::metadata(lock)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.elapsed().ok())
        .unwrap_or_default();
    age > if pid.is_none() {
        Duration::from_secs(60)
    } else {
        2 * VENV_LOCK_WAIT
    }
}

/// Ports of the peers alive in this process, so two test threads never share one.
fn ports_in_use() -> &'static Mutex<BTreeSet<u16>> {
    static PORTS: OnceLock<Mutex<BTreeSet<u16>>> = OnceLock::new();
    PORTS.get_or_init(Default::default)
}

/// A loopback port that was free a moment ago and is not used by another peer of ours.
///
/// The server cannot be given port 0 (it falls back to 3000), so the port is chosen here and
/// may be taken by someone else before the server binds it; `Peer::start` retries then.
fn pick_port() -> u16 {
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("bind a loopback port")
            .port();
        if ports_in_use().lock().unwrap().insert(port) {
            return port;
        }
    }
}

fn release_port(port: u16) {
    ports_in_use().lock().unwrap().remove(&port);
}

/// An HTTP answer, read in full (so that nothing is left to block on later).
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
}

impl Reply {
    /// The header's value, if present and visible ASCII.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body as JSON, whatever the status; panics with the body if it is not JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("HTTP {}: not JSON ({e}): {}", self.status, self.body))
    }
}

/// A post for `Peer::start_seeded`.
#[derive(Clone, Debug)]
pub struct SeedPost {
    pub text: String,
    /// Index, in the same slice, of an earlier post this one replies to.
    pub reply_to: Option<usize>,
    /// `public`, `unlisted`, `private` or `direct`.
    pub visibility: &'static str,
}

impl SeedPost {
    pub fn public(text: impl Into<String>) -> SeedPost {
        SeedPost {
            text: text.into(),
            reply_to: None,
            visibility: "public",
        }
    }

    pub fn reply(text: impl Into<String>, to: usize) -> SeedPost {
        SeedPost {
            reply_to: Some(to),
            ..SeedPost::public(text)
        }
    }
}

/// An account on a peer, with a user token that can post as it.
#[derive(Clone, Debug)]
pub struct Account {
    pub id: String,
    pub username: String,
    pub token: String,
}

/// One running mastodon-mock server, killed when dropped.
pub struct Peer {
    pub port: u16,
    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub base: String,
    child: Child,
    /// A `sh` that kills the server when this test process dies without dropping the peer.
    watchdog: Option<Child>,
    /// The server's working directory: its config file and its log live here.
    workdir: tempfile::TempDir,
    client: Client,
    app_token: OnceLock<String>,
    /// Makes signup emails distinct within this peer.
    counter: AtomicU64,
}

/// Why one start attempt failed.
enum StartError {
    /// The port was taken before the server bound it: worth another port.
    PortTaken,
    Failed(String),
}

impl Peer {
    /// Start a server with the default configuration.
    pub fn start() -> Peer {
        Self::start_inner(None, STARTUP_WAIT)
    }

    /// Start a server with `toml` as its `.mastodon_mock.toml`, e.g. to enable the rate limiter:
    ///
    /// ```toml
    /// [ratelimit]
    /// enabled = true
    /// limit = 5
    /// window_seconds = 60
    /// ```
    ///
    /// The whole document is the config (no `[tool.mastodon_mock]` prefix). The command line
    /// still decides host, port, domain and the in-memory database. The rate limiter counts
    /// per bearer token, else per client address, and every request counts: the readiness
    /// probe spends one anonymous request. Its 429s carry `X-RateLimit-*` but no `Retry-After`.
    pub fn start_with_config(toml: &str) -> Peer {
        Self::start_inner(Some(toml), STARTUP_WAIT)
    }

    /// Start a server that holds `posts` by a new account `username` before it answers, and
    /// return it with that account and the posts' ids in the order of `posts`.
    ///
    /// For volume: 5,000 posts take about 5 s in all and 20,000 about 35 s, against about 6 ms
    /// a post through the API. (The server looks each text up among all earlier ones, so the
    /// cost per post grows with the count; the startup wait allows 10 ms a post.)
    ///
    /// What differs from `post`: replies have `in_reply_to_account_id: null` (the server's
    /// seeding never sets it), and every text must be unique, since the seeding merges posts
    /// of one account with equal text.
    pub fn start_seeded(username: &str, posts: &[SeedPost]) -> (Peer, Account, Vec<String>) {
        Self::start_seeded_with(username, posts, "")
    }

    /// `start_seeded` with more configuration (TOML tables such as `[ratelimit]`) added.
    pub fn start_seeded_with(
        username: &str,
        posts: &[SeedPost],
        config: &str,
    ) -> (Peer, Account, Vec<String>) {
        let token = format!("seeded-{username}");
        let mut toml = format!(
            "{config}\n[[seed.accounts]]\nusername = {}\naccess_token = {}\n",
            toml_str(username),
            toml_str(&token)
        );
        let mut texts = HashSet::new();
        for (i, post) in posts.iter().enumerate() {
            assert!(
                texts.insert(&post.text),
                "seed post {i} repeats the text {:?}: the server would merge them",
                post.text
            );
            toml += &format!(
                "\n[[seed.statuses]]\naccount = {}\nref = \"p{i}\"\ntext = {}\nvisibility = {}\n",
                toml_str(username),
                toml_str(&post.text),
                toml_str(post.visibility)
            );
            if let Some(parent) = post.reply_to {
                assert!(
                    parent < i,
                    "seed post {i} replies to {parent}, not an earlier post"
                );
                toml += &format!("reply_to = \"p{parent}\"\n");
            }
        }
        let wait = STARTUP_WAIT + SEED_WAIT * u32::try_from(posts.len()).unwrap_or(u32::MAX);
        let peer = Peer::start_inner(Some(&toml), wait);
        let me = json_or_panic(
            peer.client
                .get(peer.url("/api/v1/accounts/verify_credentials"))
                .bearer_auth(&token),
            "GET /api/v1/accounts/verify_credentials",
        );
        let account = Account {
            id: str_field(&me, "id").to_owned(),
            username: username.to_owned(),
            token,
        };
        // Ids come from one increasing counter, so newest-first pages, reversed, are in seed
        // order. The owner's token makes private and direct posts visible too.
        let mut ids = Vec::with_capacity(posts.len());
        let mut path = format!("/api/v1/accounts/{}/statuses?limit=40", account.id);
        loop {
            let page = json_or_panic(
                peer.client.get(peer.url(&path)).bearer_auth(&account.token),
                &format!("GET {path}"),
            );
            let page = page.as_array().expect("a page of statuses");
            let Some(last) = page.last() else { break };
            ids.extend(page.iter().map(|s| str_field(s, "id").to_owned()));
            path = format!(
                "/api/v1/accounts/{}/statuses?limit=40&max_id={}",
                account.id,
                str_field(last, "id")
            );
        }
        ids.reverse();
        assert_eq!(
            ids.len(),
            posts.len(),
            "the server seeded a different number of posts"
        );
        (peer, account, ids)
    }

    /// Start a server that keeps its data in an SQLite file of its own directory, so that a test
    /// can set up what the API cannot (see `set_status_url`).
    pub fn start_on_disk() -> Peer {
        Self::start_inner(Some(ON_DISK_CONFIG), STARTUP_WAIT)
    }

    /// `start_seeded`, with the data in an SQLite file of the server's own directory (see
    /// `start_on_disk`), so that `set_status_urls` can make the seeded posts copies.
    pub fn start_seeded_on_disk(
        username: &str,
        posts: &[SeedPost],
    ) -> (Peer, Account, Vec<String>) {
        Self::start_seeded_with(username, posts, ON_DISK_CONFIG)
    }

    /// `set_status_url` for many statuses, in one transaction.
    pub fn set_status_urls(&self, pairs: &[(String, String)]) {
        let path = self.workdir.path().join(ON_DISK_FILE);
        let mut conn = rusqlite::Connection::open(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (was the peer started on disk?)", path.display()));
        conn.busy_timeout(Duration::from_secs(10)).unwrap();
        let tx = conn.transaction().unwrap();
        for (id, url) in pairs {
            let n = tx
                .execute(
                    "UPDATE statuses SET url = ?1 WHERE id = ?2",
                    rusqlite::params![url, id.parse::<i64>().expect("a numeric status id")],
                )
                .expect("update the peer's statuses table");
            assert_eq!(n, 1, "no status {id} on {}", self.base);
        }
        tx.commit().unwrap();
    }

    /// Make a status look like the local copy of a post from another server: its `uri` and
    /// `url` become `url`. mastodon-mock does not federate, and this is the one field that
    /// makes a copy remote for a client (`uri` names the origin). Needs `start_on_disk`.
    pub fn set_status_url(&self, id: &str, url: &str) {
        let path = self.workdir.path().join(ON_DISK_FILE);
        let conn = rusqlite::Connection::open(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (was the peer started on disk?)", path.display()));
        conn.busy_timeout(Duration::from_secs(10)).unwrap();
        let n = conn
            .execute(
                "UPDATE statuses SET url = ?1 WHERE id = ?2",
                rusqlite::params![url, id.parse::<i64>().expect("a numeric status id")],
            )
            .expect("update the peer's statuses table");
        assert_eq!(n, 1, "no status {id} on {}", self.base);
    }

    fn start_inner(config: Option<&str>, wait: Duration) -> Peer {
        let bin = mock_bin();
        let mut last = String::new();
        for _ in 0..START_ATTEMPTS {
            let port = pick_port();
            match Self::try_start(&bin, port, config, wait) {
                Ok(peer) => return peer,
                Err(StartError::PortTaken) => {
                    release_port(port);
                    last = format!("port {port} was taken");
                }
                Err(StartError::Failed(why)) => {
                    release_port(port);
                    panic!("mastodon_mock ({}) did not start: {why}", bin.display());
                }
            }
        }
        panic!("mastodon_mock did not start in {START_ATTEMPTS} attempts; last: {last}");
    }

    fn try_start(
        bin: &Path,
        port: u16,
        config: Option<&str>,
        wait: Duration,
    ) -> Result<Peer, StartError> {
        // An empty working directory: without --config the server reads ./.mastodon_mock.toml
        // or ./pyproject.toml, and neither must leak in from wherever the tests run.
        let workdir = tempfile::Builder::new()
            .prefix("rethread-peer-")
            .tempdir()
            .expect("create a temp dir for the peer");
        if let Some(toml) = config {
            fs::write(workdir.path().join(".mastodon_mock.toml"), toml)
                .expect("write .mastodon_mock.toml");
        }
        // A file, not a pipe: nobody reads the server's output while it runs, and a full pipe
        // would stall it. It is read back only to explain a failure.
        let log_path = workdir.path().join("server.log");
        let log = File::create(&log_path).expect("create the peer's log file");
        let on_disk = config.is_some_and(|c| c.starts_with(ON_DISK_CONFIG));
        let child = Command::new(bin)
            .arg("serve")
            .args(if on_disk {
                &[][..]
            } else {
                &["--in-memory"][..]
            })
            .args(["--host", "127.0.0.1"])
            .args(["--port", &port.to_string()])
            // Without it `url`/`uri` would say localhost:PORT.
            .args(["--domain", &format!("127.0.0.1:{port}")])
            .args(["--log-level", "warning"])
            .current_dir(workdir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone the log file handle"))
            .stderr(log)
            .spawn()
            .map_err(|e| StartError::Failed(format!("cannot run {}: {e}", bin.display())))?;
        let watchdog = spawn_watchdog(child.id());
        let mut peer = Peer {
            port,
            base: format!("http://127.0.0.1:{port}"),
            child,
            watchdog,
            workdir,
            // Building waits on reqwest's runtime thread, hence off_runtime.
            client: off_runtime(|| Client::builder().timeout(Duration::from_secs(60)).build())
                .expect("build an HTTP client"),
            app_token: OnceLock::new(),
            counter: AtomicU64::new(0),
        };
        // On error `peer` is dropped here, which kills the server and releases the port.
        peer.wait_ready(wait).map(|()| peer)
    }

    /// Wait for `GET /health` to answer `OK`, or for the server to die trying.
    fn wait_ready(&mut self, wait: Duration) -> Result<(), StartError> {
        let deadline = Instant::now() + wait;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                let log = self.log();
                // uvicorn logs "[Errno 98] ... address already in use" and exits.
                return Err(if log.contains("already in use") {
                    StartError::PortTaken
                } else {
                    StartError::Failed(format!("it exited ({status}):\n{log}"))
                });
            }
            let probe = self
                .client
                .get(self.url("/health"))
                .timeout(Duration::from_secs(2));
            if let Ok(reply) = send(probe) {
                // Check that it is our server: another process may own the port while ours
                // fails to bind it. A 429 from the opt-in rate limiter also means "up".
                let healthy = reply.status == 200
                    && reply.body == "OK"
                    && reply.header("server") == Some("Mastodon");
                let limited = reply.status == 429 && reply.header("x-ratelimit-limit").is_some();
                if healthy || limited {
                    return Ok(());
                }
            }
            if Instant::now() > deadline {
                return Err(StartError::Failed(format!(
                    "no answer on {}/health after {wait:?}; its output:\n{}",
                    self.base,
                    self.log()
                )));
            }
            thread::sleep(Duration::from_millis(100));
        }
    }

    /// What the server has written to stdout and stderr so far.
    pub fn log(&self) -> String {
        fs::read_to_string(self.workdir.path().join("server.log")).unwrap_or_default()
    }

    /// The server's domain as it appears in `uri`/`url`: `127.0.0.1:PORT`.
    pub fn domain(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `base` + `path` for a path (starting with `/`); an absolute URL (such as a `Link`
    /// header's target) as it is.
    pub fn url(&self, path_or_url: &str) -> String {
        if path_or_url.starts_with("http://") || path_or_url.starts_with("https://") {
            path_or_url.to_owned()
        } else {
            format!("{}{path_or_url}", self.base)
        }
    }

    /// `GET` without a token, whatever the status.
    pub fn get(&self, path_or_url: &str) -> Reply {
        send(self.client.get(self.url(path_or_url)))
            .unwrap_or_else(|e| panic!("GET {path_or_url}: {e}"))
    }

    /// `GET` with `token` as the bearer token, whatever the status.
    pub fn get_with_token(&self, path_or_url: &str, token: &str) -> Reply {
        send(self.client.get(self.url(path_or_url)).bearer_auth(token))
            .unwrap_or_else(|e| panic!("GET {path_or_url}: {e}"))
    }

    /// `GET` without a token, insisting on a 2xx JSON answer.
    pub fn get_json(&self, path_or_url: &str) -> Value {
        json_or_panic(
            self.client.get(self.url(path_or_url)),
            &format!("GET {path_or_url}"),
        )
    }

    // ---- Seeding, through the ordinary Mastodon API ----

    /// An app-level token (client-credentials grant), made once per peer.
    pub fn app_token(&self) -> &str {
        self.app_token.get_or_init(|| {
            let app = json_or_panic(
                self.client.post(self.url("/api/v1/apps")).form(&[
                    ("client_name", "rethread-tests"),
                    ("redirect_uris", "urn:ietf:wg:oauth:2.0:oob"),
                    ("scopes", "read write"),
                ]),
                "POST /api/v1/apps",
            );
            let token = json_or_panic(
                self.client.post(self.url("/oauth/token")).form(&[
                    ("grant_type", "client_credentials"),
                    ("client_id", str_field(&app, "client_id")),
                    ("client_secret", str_field(&app, "client_secret")),
                    ("scope", "read write"),
                ]),
                "POST /oauth/token",
            );
            str_field(&token, "access_token").to_owned()
        })
    }

    /// Sign up `username` (which must be new on this peer) and return it with a user token.
    pub fn create_account(&self, username: &str) -> Account {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let email = format!("{username}.{n}@peer.test");
        // The signup endpoint reads a form body only.
        let token = json_or_panic(
            self.client
                .post(self.url("/api/v1/accounts"))
                .bearer_auth(self.app_token())
                .form(&[
                    ("username", username),
                    ("email", &email),
                    ("password", "correct horse battery staple"),
                    ("agreement", "true"),
                    ("locale", "en"),
                ]),
            &format!("POST /api/v1/accounts ({username})"),
        );
        let token = str_field(&token, "access_token").to_owned();
        // Signup answers with a token only; the account id comes from verify_credentials.
        let me = json_or_panic(
            self.client
                .get(self.url("/api/v1/accounts/verify_credentials"))
                .bearer_auth(&token),
            "GET /api/v1/accounts/verify_credentials",
        );
        Account {
            id: str_field(&me, "id").to_owned(),
            username: username.to_owned(),
            token,
        }
    }

    /// Post `text` as `account`, optionally as a reply, and return the created status.
    ///
    /// `visibility` is `public`, `unlisted`, `private` or `direct` (the server stores any
    /// string). `in_reply_to` may name a status that does not exist: the server keeps the id
    /// and leaves `in_reply_to_account_id` null, which makes a dangling reply.
    pub fn post(
        &self,
        account: &Account,
        text: &str,
        in_reply_to: Option<&str>,
        visibility: &str,
    ) -> Value {
        let mut form = vec![("status", text), ("visibility", visibility)];
        if let Some(parent) = in_reply_to {
            form.push(("in_reply_to_id", parent));
        }
        json_or_panic(
            self.client
                .post(self.url("/api/v1/statuses"))
                .bearer_auth(&account.token)
                .form(&form),
            "POST /api/v1/statuses",
        )
    }

    /// Post each of `texts` publicly as `account`, using `threads` connections at once, and
    /// return the new ids in the order of `texts`.
    ///
    /// For volume, not structure (use `post` for replies, `start_seeded` for thousands). The
    /// server is one Python process on one SQLite connection: on 2 cores, 1, 2 and 4 threads
    /// all measured about 6 ms a post.
    pub fn post_many(&self, account: &Account, texts: &[String], threads: usize) -> Vec<String> {
        let threads = threads.clamp(1, texts.len().max(1));
        let chunk = texts.len().div_ceil(threads).max(1);
        thread::scope(|s| {
            let workers: Vec<_> = texts
                .chunks(chunk)
                .map(|part| {
                    s.spawn(move || {
                        part.iter()
                            .map(|t| {
                                str_field(&self.post(account, t, None, "public"), "id").to_owned()
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            workers
                .into_iter()
                .flat_map(|w| w.join().expect("a post_many worker panicked"))
                .collect()
        })
    }

    /// `PATCH /api/v1/accounts/update_credentials` with `fields` as a form (the only body the
    /// server reads here), returning the account with its `source`. Known fields:
    /// `display_name`, `note`, `locked`, `bot`, `discoverable`, `source[privacy]`,
    /// `fields_attributes[N][name]`/`[value]`. Others, such as `indexable`, are ignored.
    pub fn update_credentials(&self, account: &Account, fields: &[(&str, &str)]) -> Value {
        json_or_panic(
            self.client
                .patch(self.url("/api/v1/accounts/update_credentials"))
                .bearer_auth(&account.token)
                .form(fields),
            "PATCH /api/v1/accounts/update_credentials",
        )
    }

    /// Set `account`'s bio. The server keeps it verbatim, so pass the HTML a real server would
    /// return (e.g. `<p>no bots please #nobot</p>`); the account's `note` is exactly that.
    pub fn set_note(&self, account: &Account, note_html: &str) -> Value {
        self.update_credentials(account, &[("note", note_html)])
    }

    // ---- Fault injection (mock-only control plane, never itself faulted) ----

    /// Add a fault rule and return its id (`r1`, `r2`...). Rules are tried in the order added;
    /// the first match fires. The schema:
    ///
    /// ```json
    /// {"match": {"methods": ["GET"], "path": "/api/v1/statuses/*", "path_regex": null},
    ///  "effect": {"type": "status|ratelimit|malformed|latency|timeout", "status": 503,
    ///             "body": {...}, "headers": {"K": "V"}, "delay_ms": 0, "truncate": true},
    ///  "count": 1}
    /// ```
    ///
    /// Every field is optional. `match` absent matches everything; `path` matches exactly, or as
    /// a glob if it contains `*`; `path_regex` (searched, so anchor it) wins over `path`.
    /// `count` absent fires forever; the rule is removed when its count runs out.
    pub fn add_fault(&self, rule: Value) -> String {
        let added = json_or_panic(
            self.client
                .post(self.url("/api/v1/_mock/faults"))
                .json(&rule),
            "POST /api/v1/_mock/faults",
        );
        str_field(&added, "id").to_owned()
    }

    /// The active rules, each as `add_fault` shows them plus `id` and `remaining`.
    pub fn faults(&self) -> Vec<Value> {
        match self.get_json("/api/v1/_mock/faults") {
            Value::Array(rules) => rules,
            other => panic!("GET /api/v1/_mock/faults: not an array: {other}"),
        }
    }

    /// Remove one rule by the id `add_fault` returned.
    pub fn remove_fault(&self, id: &str) {
        json_or_panic(
            self.client
                .delete(self.url(&format!("/api/v1/_mock/faults/{id}"))),
            "DELETE /api/v1/_mock/faults/:id",
        );
    }

    /// Remove every rule.
    pub fn clear_faults(&self) {
        json_or_panic(
            self.client.delete(self.url("/api/v1/_mock/faults")),
            "DELETE /api/v1/_mock/faults",
        );
    }

    /// `GET path_pattern` answers `status` with `{"error": "..."}` (`count` times; `None` =
    /// until removed). The typed helpers all match GET only, so seeding through POST keeps
    /// working while a fault is set; use `add_fault` for other methods.
    pub fn fault_status(&self, path_pattern: &str, status: u16, count: Option<u32>) -> String {
        self.add_fault(rule(
            path_pattern,
            json!({"type": "status", "status": status}),
            count,
        ))
    }

    /// `GET path_pattern` answers 429 `{"error":"Too many requests"}` with `Retry-After:
    /// retry_after_secs`, `X-RateLimit-Limit: 300`, `X-RateLimit-Remaining: 0` and
    /// `X-RateLimit-Reset` = now + `retry_after_secs` as epoch seconds (what this server's own
    /// limiter sends; real Mastodon sends ISO 8601, so add a rule with your own headers to test
    /// that form). The reset time is fixed when the rule is added, not when it fires.
    pub fn fault_429(
        &self,
        path_pattern: &str,
        retry_after_secs: u64,
        count: Option<u32>,
    ) -> String {
        let reset = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock after 1970")
            .as_secs()
            + retry_after_secs;
        let headers = json!({
            "Retry-After": retry_after_secs.to_string(),
            "X-RateLimit-Reset": reset.to_string(),
        });
        self.add_fault(rule(
            path_pattern,
            json!({"type": "ratelimit", "headers": headers}),
            count,
        ))
    }

    /// `GET path_pattern` answers 200, `Content-Type: application/json`, body
    /// `{"error": "truncated` (cut-off JSON).
    pub fn fault_malformed(&self, path_pattern: &str, count: Option<u32>) -> String {
        self.add_fault(rule(path_pattern, json!({"type": "malformed"}), count))
    }

    /// `GET path_pattern` hangs: the server holds the request 30 s, then serves it normally.
    /// A client needs its own, shorter timeout to notice. Dropping the peer ends the hang.
    pub fn fault_hang(&self, path_pattern: &str, count: Option<u32>) -> String {
        self.add_fault(rule(path_pattern, json!({"type": "timeout"}), count))
    }

    /// `GET path_pattern` is served normally after `delay_ms`.
    pub fn fault_latency(&self, path_pattern: &str, delay_ms: u64, count: Option<u32>) -> String {
        self.add_fault(rule(
            path_pattern,
            json!({"type": "latency", "delay_ms": delay_ms}),
            count,
        ))
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        // The watchdog goes first, so it can never kill the server's pid after it is reaped
        // (and possibly reused). SIGKILL, not a graceful stop: uvicorn would wait out any
        // request a `timeout` fault is holding.
        if let Some(mut w) = self.watchdog.take() {
            let _ = w.kill();
            let _ = w.wait();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        release_port(self.port);
    }
}

/// A `sh` that waits for its stdin to close and then kills the server `pid`.
///
/// Its stdin is a pipe whose only writer is this process, so the kernel closes it when this
/// process ends by any means, including a SIGKILL from a test runner's timeout that skips every
/// `Drop`. Without it, such a run would leave servers holding ports and memory.
#[cfg(unix)]
fn spawn_watchdog(pid: u32) -> Option<Child> {
    Command::new("sh")
        .args(["-c", r#"read _; kill -9 "$0" 2>/dev/null"#])
        .arg(pid.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()
}

#[cfg(not(unix))]
fn spawn_watchdog(_pid: u32) -> Option<Child> {
    None
}

/// The database file of a peer started with `start_on_disk`, relative to its directory.
const ON_DISK_FILE: &str = "peer.sqlite3";
const ON_DISK_CONFIG: &str = "[database]\npath = \"peer.sqlite3\"\n";

/// A GET-only fault rule for the typed helpers.
fn rule(path_pattern: &str, effect: Value, count: Option<u32>) -> Value {
    // The server treats 0 like 1 (it decrements, then removes at <= 0), which would surprise.
    assert_ne!(count, Some(0), "a fault with count 0 would still fire once");
    json!({
        "match": {"methods": ["GET"], "path": path_pattern},
        "effect": effect,
        "count": count,
    })
}

/// Run `f` on a thread of its own and return its result.
///
/// reqwest's blocking client panics (in debug builds) when it waits on a thread that drives a
/// tokio runtime, and a `#[tokio::test]` body runs on such a thread. So every wait (building a
/// client, sending, reading a body) happens here. A thread costs tens of microseconds; the
/// server takes milliseconds to answer. Panics are left to the caller, on the caller's thread.
fn off_runtime<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    thread::scope(|s| {
        s.spawn(f)
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// Send `req` and read the whole answer.
fn send(req: RequestBuilder) -> reqwest::Result<Reply> {
    off_runtime(move || {
        let resp = req.send()?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        Ok(Reply {
            status,
            headers,
            body: resp.text()?,
        })
    })
}

/// Send `req`, insisting on a 2xx answer with a JSON body; panic with the body otherwise.
fn json_or_panic(req: RequestBuilder, what: &str) -> Value {
    let reply = send(req).unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        (200..300).contains(&reply.status),
        "{what}: HTTP {}: {}",
        reply.status,
        reply.body
    );
    serde_json::from_str(&reply.body)
        .unwrap_or_else(|e| panic!("{what}: not JSON ({e}): {}", reply.body))
}

/// `s` as a TOML basic string. A JSON string is one, except that TOML also forbids a raw DEL.
fn toml_str(s: &str) -> String {
    serde_json::to_string(s)
        .expect("a string serializes")
        .replace('\u{7f}', "\\u007F")
}

/// `value[key]` as a string, or a panic showing the value.
fn str_field<'a>(value: &'a Value, key: &str) -> &'a str {
    value[key]
        .as_str()
        .unwrap_or_else(|| panic!("no string {key:?} in {value}"))
}
