#!/usr/bin/env python3
"""Write the committed seed corpora, fuzz/seeds/<target>/, from the project's own fixtures.

Only fixtures/ is read (the seed002 conversation the project wrote as data): nothing here comes
from ../shared/data, whose files may not be copied into the repository (run.sh adds small samples
of those to the uncommitted working corpus at run time). The formats seed002 is not written in
(tweets.js, TWCS, ConvoKit) are made from its twarc1 tweets, in the layouts the importers read.

Each importer seed starts with one mode byte (see fuzz/src/lib.rs): an ASCII digit, so that the
seeds stay text; '0' strict, '1' --skip-bad, '3' --skip-bad keeping raw JSON, '4' strict with
--quotes. Run it again after changing the fixtures: `python3 fuzz/make_seeds.py`.
"""
import html
import json
import re
from datetime import datetime
from pathlib import Path

FUZZ = Path(__file__).resolve().parent
SEED002 = FUZZ.parent / "fixtures" / "seed002"
SEEDS = FUZZ / "seeds"


def lines(name):
    return [l for l in (SEED002 / name).read_text(encoding="utf-8").splitlines() if l.strip()]


def write(target, name, mode, body):
    d = SEEDS / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(mode.encode() + body.encode("utf-8"))


def compact(v):
    return json.dumps(v, ensure_ascii=False, separators=(",", ":"))


def main():
    for old in SEEDS.glob("*/*"):
        old.unlink()
    mastodon, twarc1, twarc2 = lines("mastodon.jsonl"), lines("twarc1.jsonl"), lines("twarc2.jsonl")
    statuses = [json.loads(l) for l in mastodon]
    tweets = [json.loads(l) for l in twarc1]

    # Mastodon: JSONL, an array, a context response, one status, a boost wrapping a status.
    write("import_mastodon", "seed002.jsonl", "0", "\n".join(mastodon) + "\n")
    write("import_mastodon", "seed002-head.jsonl", "1", "\n".join(mastodon[:4]) + "\n")
    write("import_mastodon", "array.json", "3", compact(statuses[:3]))
    write("import_mastodon", "context.json", "0",
          compact({"ancestors": statuses[:2], "descendants": statuses[3:6]}))
    write("import_mastodon", "one.json", "4", json.dumps(statuses[2], ensure_ascii=False, indent=1))
    boost = dict(statuses[5], id="83147489280009999", content="", reblog=statuses[4])
    write("import_mastodon", "boost.jsonl", "1", compact(boost) + "\n" + mastodon[4] + "\n")

    # twarc2: the two response pages (tweet 8 in both), one page, and the flattened form.
    write("import_twarc2", "seed002.jsonl", "0", "\n".join(twarc2) + "\n")
    write("import_twarc2", "page2.jsonl", "3", twarc2[1] + "\n")
    page = json.loads(twarc2[0])
    users = {u["id"]: u for u in page.get("includes", {}).get("users", [])}
    flat = [dict(t, author=users.get(t.get("author_id"), {})) for t in page["data"][:5]]
    write("import_twarc2", "flat.jsonl", "1", "\n".join(compact(t) for t in flat) + "\n")

    # twarc1: the 17 tweets, and the first few.
    write("import_twarc1", "seed002.jsonl", "0", "\n".join(twarc1) + "\n")
    write("import_twarc1", "seed002-head.jsonl", "3", "\n".join(twarc1[:5]) + "\n")

    # tweets.js: a Twitter archive's wrapped elements, and the older bare ones.
    wrapped = ",\n".join("  " + compact({"tweet": t}) for t in tweets[:6])
    write("import_tweets_js", "tweets.js", "0", f"window.YTD.tweets.part0 = [\n{wrapped}\n]\n")
    bare = json.dumps(tweets[6:9], ensure_ascii=False, indent=2)
    write("import_tweets_js", "tweets-bare.js", "3", f"window.YTD.tweets.part0 = {bare}")

    # TWCS: Kaggle's column order, and pandas' re-save (index column, float ids, a bare CR).
    def csv_field(s):
        return '"' + s.replace('"', '""') + '"' if re.search(r'[",\n]', s) else s

    children = {}
    for t in tweets:
        if t.get("in_reply_to_status_id_str"):
            children.setdefault(t["in_reply_to_status_id_str"], []).append(t["id_str"])
    rows = []
    for t in tweets:
        rows.append([
            t["id_str"], t["user"]["screen_name"], "True" if t["user"]["screen_name"] != "nz_rob" else "False",
            t["created_at"], html.unescape(t["full_text"]), ",".join(children.get(t["id_str"], [])),
            t.get("in_reply_to_status_id_str") or "",
        ])
    head = "tweet_id,author_id,inbound,created_at,text,response_tweet_id,in_response_to_tweet_id"
    body = "\n".join(",".join(csv_field(c) for c in r) for r in rows[:10])
    write("import_twcs", "kaggle.csv", "0", head + "\n" + body + "\n")
    pandas = []
    for i, r in enumerate(rows[10:]):
        reply = r[6] + ".0" if r[6] else ""
        text = r[4].replace(" ", " \r", 1) if i == 0 else r[4]
        pandas.append(",".join([str(i), r[0] + ".0", r[1], r[2], r[3], csv_field(text), csv_field(r[5]), reply]))
    write("import_twcs", "pandas.csv", "1", "," + head + "\r\n" + "\r\n".join(pandas) + "\r\n")

    # ConvoKit utterances.jsonl: the current keys with epoch times, and the pre-2.0 keys.
    def epoch(t):
        return int(datetime.strptime(t["created_at"], "%a %b %d %H:%M:%S %z %Y").timestamp())

    root = tweets[0]["id_str"]
    current = [compact({"id": t["id_str"], "speaker": t["user"]["screen_name"], "conversation_id": root,
                        "reply_to": t.get("in_reply_to_status_id_str"), "timestamp": epoch(t),
                        "text": html.unescape(t["full_text"]), "meta": {"lang": t.get("lang")}})
               for t in tweets[:9]]
    write("import_convokit", "utterances.jsonl", "0", "\n".join(current) + "\n")
    old = [compact({"id": int(t["id_str"]), "user": t["user"]["screen_name"], "root": int(root),
                    "reply-to": int(t["in_reply_to_status_id_str"]) if t.get("in_reply_to_status_id_str") else None,
                    "timestamp": str(epoch(t)), "text": html.unescape(t["full_text"])})
           for t in tweets[9:]]
    write("import_convokit", "utterances-old.jsonl", "1", "\n".join(old) + "\n")

    # Bluesky: the seed002 tweets as AT Protocol post views (made-up DIDs and record keys), as a
    # getPostThread tree (with a notFoundPost parent and a blockedPost reply), a search page,
    # a feed page with a repost, and one view per line.
    def at(t):
        return f"at://did:plc:seed{t['user']['screen_name'].lower()[:16]}/app.bsky.feed.post/{t['id_str']}"
    by_id = {t["id_str"]: t for t in tweets}

    def view(t):
        text = html.unescape(t["full_text"])
        record = {"$type": "app.bsky.feed.post", "text": text,
                  "createdAt": datetime.strptime(t["created_at"], "%a %b %d %H:%M:%S %z %Y").isoformat(),
                  "langs": ["en"]}
        tag = text.find("#")
        if tag >= 0:
            end = tag + 1
            while end < len(text) and text[end].isalnum():
                end += 1
            start_b, end_b = len(text[:tag].encode()), len(text[:end].encode())
            record["facets"] = [{"index": {"byteStart": start_b, "byteEnd": end_b},
                                 "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": text[tag + 1:end]}]}]
        parent = t.get("in_reply_to_status_id_str")
        if parent and parent in by_id:
            root = by_id[parent]
            while root.get("in_reply_to_status_id_str") in by_id:
                root = by_id[root["in_reply_to_status_id_str"]]
            record["reply"] = {"root": {"uri": at(root), "cid": "c"}, "parent": {"uri": at(by_id[parent]), "cid": "c"}}
        handle = t["user"]["screen_name"].lower() + ".bsky.social"
        return {"uri": at(t), "cid": "c", "author": {"did": at(t).split("/")[2], "handle": handle,
                "displayName": t["user"].get("name", "")}, "record": record, "replyCount": 0,
                "indexedAt": record["createdAt"]}

    views = [view(t) for t in tweets]
    children = {}
    for t in tweets:
        children.setdefault(t.get("in_reply_to_status_id_str"), []).append(t)

    def node(t):
        return {"$type": "app.bsky.feed.defs#threadViewPost", "post": view(t),
                "replies": [node(c) for c in children.get(t["id_str"], [])]}
    roots = [t for t in tweets if t.get("in_reply_to_status_id_str") not in by_id]
    tree = node(roots[0])
    tree["parent"] = {"$type": "app.bsky.feed.defs#notFoundPost", "uri": at(roots[0])[:-1] + "0", "notFound": True}
    tree["replies"].append({"$type": "app.bsky.feed.defs#blockedPost", "uri": at(roots[0])[:-1] + "9",
                            "blocked": True, "author": {"did": "did:plc:blocked"}})
    write("import_bluesky", "thread.json", "0", compact({"thread": tree}))
    write("import_bluesky", "search.json", "1", compact({"posts": views, "cursor": "25"}))
    write("import_bluesky", "feed.json", "3", compact({"feed": [{"post": views[0]}, {"post": views[1], "reason": {
        "$type": "app.bsky.feed.defs#reasonRepost", "by": views[2]["author"], "indexedAt": views[2]["indexedAt"]}}]}))
    write("import_bluesky", "views.jsonl", "0", "\n".join(compact(v) for v in views) + "\n")

    # HTML to text: every content of the Mastodon fixture, and a few shapes Mastodon sends.
    for i, s in enumerate(statuses):
        write("html_text", f"content-{i:02}.html", "", s["content"])
    write("html_text", "paragraphs.html", "",
          "<p>one &amp; two<br>three</p><p><a href=\"https://social.example/tags/x\" class=\"mention hashtag\" "
          "rel=\"tag\">#<span>x</span></a> &lt;not a tag&gt; &#128578;</p>")
    write("html_text", "lists.html", "",
          "<ul><li>a<ul><li>b</li></ul></li></ul><ol><li>c</li></ol><blockquote><p>q</p></blockquote>"
          "<pre><code>x  y</code></pre><del>d</del><b>b</b><i>i</i>")

    # REFI-QDA codebooks: rethread's own form (a description ending in the theme id) and
    # another tool's nested codes without ids.
    write("qdc_codebook", "ids.qdc", "",
          '<?xml version="1.0" encoding="utf-8"?>\n<CodeBook xmlns="urn:QDA-XML:codebook:1.0" origin="rethread">'
          '<Codes><Code guid="fd5a9694-b405-1313-48c1-4271c4c18933" name="Over-designed, rigid systems" '
          'isCodable="true"><Description>Rules too rigid for the case [rigid-systems]</Description></Code>'
          '<Code guid="26289e72-89ea-a682-2b48-63858025e93c" name="Training" isCodable="true">'
          '<Description>[training-knowledge]</Description></Code></Codes></CodeBook>\n')
    write("qdc_codebook", "nested.qdc", "",
          '<?xml version="1.0"?><CodeBook xmlns="urn:QDA-XML:codebook:1.0"><Codes>'
          '<Code guid="00000000-0000-0000-0000-000000000001" name="Staff &amp; trust" isCodable="true">'
          '<Description>Front line decides</Description>'
          '<Code guid="00000000-0000-0000-0000-000000000002" name="Scripts" isCodable="false"/></Code>'
          '<Code guid="00000000-0000-0000-0000-000000000003" name="Staff  trust" isCodable="true"/>'
          '</Codes></CodeBook>')


if __name__ == "__main__":
    main()
