//! The write floor: how long this machine takes just to write the files of an export.
//!
//! ```text
//! cargo run --release --example write_floor -- [--safe] SRC DST [THREADS]
//! ```
//!
//! Reads every file of the directory SRC into memory (not timed), then creates DST and writes
//! the same names with the same bytes from THREADS threads (default: one per core), one
//! open-write-close per file, as `rethread export markdown` does. It prints the time of the
//! writing alone, and the CPU time the process spent in the kernel meanwhile.
//!
//! Why it exists: `bench/pipeline.sh` compares `export markdown` with a baseline that writes a
//! similar number of files. Creating a few hundred thousand small files costs tens of
//! microseconds each in the kernel on some machines, whatever program asks for them, so no
//! transcript writer can run faster than this number on the same machine. The bench prints it
//! next to the speed-up, so that a target can be weighed against what the machine allows.
//!
//! `--safe` writes each file the way every rethread export must (`export::atomic::write_bytes`:
//! an unnamed file in the directory, named once complete, never writing through a path that
//! is already there or following a link), instead of a plain open-write-close. That costs the
//! kernel more per file; the difference is what the safety costs, and the `--safe` floor is the
//! one no safe transcript writer can beat.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let safe = args.first().is_some_and(|a| a == "--safe");
    if safe {
        args.remove(0);
    }
    if args.len() < 2 || args.len() > 3 {
        eprintln!("usage: write_floor [--safe] SRC DST [THREADS]");
        std::process::exit(2);
    }
    let (src, dst) = (PathBuf::from(&args[0]), PathBuf::from(&args[1]));
    let threads: usize = match args.get(2) {
        Some(n) => n.parse().unwrap_or_else(|_| {
            eprintln!("THREADS must be a number, not {n:?}");
            std::process::exit(2)
        }),
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let mut files: Vec<(std::ffi::OsString, Vec<u8>)> = std::fs::read_dir(&src)
        .unwrap_or_else(|e| fail(&format!("{}: cannot list: {e}", src.display())))
        .map(|entry| {
            let entry = entry.unwrap_or_else(|e| fail(&format!("{}: {e}", src.display())));
            let bytes = std::fs::read(entry.path())
                .unwrap_or_else(|e| fail(&format!("{}: {e}", entry.path().display())));
            (entry.file_name(), bytes)
        })
        .collect();
    // The order rethread writes in does not matter to the file system's cost; sorting only
    // makes runs alike.
    files.sort();
    let bytes: usize = files.iter().map(|(_, b)| b.len()).sum();
    std::fs::create_dir(&dst)
        .unwrap_or_else(|e| fail(&format!("{}: cannot create: {e}", dst.display())));

    let sys_before = kernel_seconds();
    let start = Instant::now();
    std::thread::scope(|scope| {
        for t in 0..threads {
            let (files, dst) = (&files, &dst);
            scope.spawn(move || {
                for (name, data) in files.iter().skip(t).step_by(threads) {
                    let path = dst.join(name);
                    if safe {
                        rethread::export::atomic::write_bytes(
                            &path,
                            rethread::export::atomic::Durability::Unsynced,
                            data,
                        )
                        .unwrap_or_else(|e| fail(&format!("{e:#}")));
                        continue;
                    }
                    let mut f = std::fs::File::create(&path)
                        .unwrap_or_else(|e| fail(&format!("{}: {e}", path.display())));
                    f.write_all(data)
                        .unwrap_or_else(|e| fail(&format!("{}: {e}", path.display())));
                }
            });
        }
    });
    let wall = start.elapsed().as_secs_f64();
    let sys = kernel_seconds() - sys_before;
    println!(
        "write_floor{} files {} bytes {bytes} threads {threads} wall_s {wall:.2} sys_s {sys:.2} us_per_file {:.1}",
        if safe { "_safe" } else { "" },
        files.len(),
        wall * 1e6 / files.len().max(1) as f64,
    );
}

/// CPU seconds this process has spent in the kernel (Linux; 0 where /proc is absent).
fn kernel_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let stime: f64 = rest
        .split_whitespace()
        .nth(12)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0.0);
    // Clock ticks; 100 per second on every Linux this runs on (USER_HZ).
    stime / 100.0
}

fn fail(message: &str) -> ! {
    eprintln!("write_floor: {message}");
    std::process::exit(1)
}
