//! Benchmark: Mastodon HTML to text on hostile nesting and on a normal post.
//!
//! `cargo bench --bench html_text`. A remote server chooses the markup of every status it sends;
//! 40,000 nested `<ul><li>` or 100,000 nested `<div>` once took tens of seconds to convert
//! (quadratic in the depth), stalling a collection. The target is under 0.5 s for the 40k-deep
//! post in a release build. Numbers, not assertions: the machine may be shared.

use rethread::source::mastodon::html_to_text;
use std::time::{Duration, Instant};

/// Time `f` over `runs` runs and give the fastest (the least disturbed by other work).
fn fastest(runs: usize, mut f: impl FnMut() -> usize) -> (Duration, usize) {
    let mut best = Duration::MAX;
    let mut len = 0;
    for _ in 0..runs {
        let start = Instant::now();
        len = f();
        best = best.min(start.elapsed());
    }
    (best, len)
}

fn main() {
    let lists = format!(
        "<p>{}leaf{}</p>",
        "<ul><li>".repeat(40_000),
        "</li></ul>".repeat(40_000)
    );
    let divs = format!(
        "{}leaf{}",
        "<div>".repeat(100_000),
        "</div>".repeat(100_000)
    );
    let normal = "<p>First &amp; <em>best</em> <span class=\"h-card\"><a href=\"https://home.example/@bob\" \
        class=\"u-url mention\">@<span>bob</span></a></span></p><p>Second line<br>third: \
        <a href=\"https://example.com/a/very/long/path\"><span class=\"invisible\">https://</span>\
        <span class=\"ellipsis\">example.com/a/very</span><span class=\"invisible\">/long/path</span></a> \
        <a href=\"https://home.example/tags/CustomerService\" class=\"mention hashtag\" rel=\"tag\">#<span>\
        CustomerService</span></a></p>";
    let cases: [(&str, &str, usize); 3] = [
        ("40,000 nested <ul><li>", &lists, 3),
        ("100,000 nested <div>", &divs, 3),
        ("a normal post", normal, 1000),
    ];
    for (name, html, runs) in cases {
        let (t, len) = fastest(runs, || html_to_text(html).len());
        println!(
            "{name:<24} {:>9} bytes of HTML -> {len:>6} bytes of text: {:>10.3} ms",
            html.len(),
            t.as_secs_f64() * 1e3
        );
    }
}
