#!/usr/bin/env bash
# Load benchmark of the local server (all routers on one axum server, in-memory store, demo data).
#
#   tests/bench/load.sh                      # build `local` (release profile), run both scenarios
#   PROFILE=release-z tests/bench/load.sh    # another cargo profile (binary in target/<profile>/)
#   SKIP_BUILD=1 DURATION=5s CONNS=8 tests/bench/load.sh
#   SCENARIOS="list similar search" tests/bench/load.sh   # a subset (names below)
#
# Scenarios (wrk, against 127.0.0.1 only, bounded duration), measured once all demo data is seeded
# (the server prints its banner then) so seeding does not compete with the load:
#   1. login: POST /api/v1/auth/login   form data username=customer000&password=password123 (argon2id)
#   2. profile: GET /api/v1/users/profile with a bearer token
#   3. personalize: POST /api/personalization/personalize, same chapter and level each time (cached adaptation;
#      body from events/textbook-personalize.json)
#   4. list: GET /api/v1/products with two filters and a sort, over DEMO_PRODUCTS products (10,000)
#   5. similar: GET /api/v1/products/{id}/similar over the same catalog
#   6. search: GET /api/v1/search?q=<two words> over the same catalog
#   7. classify: POST /classify (education ML API, starter model) with the body of
#      events/classroom-classify.json
#   8. feed: GET /api/v1/shoppable-videos/?limit=10 as customer000 (the demo's power user: 200
#      likes and saves) over DEMO_VIDEOS ready videos (10,000); each request starts a new feed
#      session (random seed), as a fresh app open does
#   9. detail: GET /api/v1/products/{id} as customer000 (counts the view, updates the viewed
#      history and, with RECORD_INTERACTIONS on, records a view interaction)
#  10. cartadd: POST /api/v1/cart/add of one unit without a token or cart id: each request starts
#      a guest cart (and records a cart interaction for it when RECORD_INTERACTIONS is on)
#  11. rechome: GET /api/v1/recommendations/user?recommendation_type=homepage&limit=10 as
#      customer000 (hybrid blend with ALS fold-in of the caller's current history); its first
#      request on the instance (model artifacts loaded, indexes built) is timed on its own
#  12. rectrending, recpopular: GET /api/v1/recommendations/trending and /popular (limit 10)
#  13. spec 000 personalization routes as customer000 (content performance as the demo admin),
#      each warm: cached (answered from the per-instance memory layer, the store item re-read
#      every 5 s) and uncached (`Cache-Control: no-cache`: computed and written back every
#      request): psegs / psegsfresh (GET .../user/{id}/segments), psegrec / psegrecfresh
#      (GET .../segment/{customer000's activity segment}/recommendations), pcontent /
#      pcontentfresh (GET .../user/{id}/content?limit=10), pperf (GET .../content/{product id},
#      never cached). All of them: SCENARIOS="psegs psegsfresh psegrec psegrecfresh pcontent
#      pcontentfresh pperf".
# For the recommendation scenarios the issue's data set is 10,000 products and 10,000 users with
# interactions: EXTRA_SERVE_ARGS="--demo-customers 10000 --demo-orders 20000".
# The server inherits the environment: RECORD_INTERACTIONS=false runs it without recording
# interactions (the latency comparison in README.md runs detail and cartadd both ways).
# Prints requests/s, p50 and p99 latency per scenario. The server is always stopped (trap).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BENCH="$ROOT/tests/bench"
PROFILE="${PROFILE:-release}"
DURATION="${DURATION:-10s}"
THREADS="${THREADS:-2}"
CONNS="${CONNS:-16}"
LOGIN_CONNS="${LOGIN_CONNS:-$CONNS}"
TIMEOUT="${TIMEOUT:-10s}"
DEMO_PRODUCTS="${DEMO_PRODUCTS:-10000}"
# Seconds to wait for the server to answer /health (it seeds first: a debug build takes longer).
START_TIMEOUT="${START_TIMEOUT:-60}"
# More `serve` options, e.g. "--demo-teachers 0" to start faster.
EXTRA_SERVE_ARGS="${EXTRA_SERVE_ARGS:-}"
SCENARIOS="${SCENARIOS:-login profile personalize list similar search classify feed}"
wanted() { [[ " $SCENARIOS " == *" $1 "* ]]; }
RECORD_INTERACTIONS="${RECORD_INTERACTIONS:-true}"
export RECORD_INTERACTIONS
# 10,000 videos only when the feed is measured: seeding them takes about half a minute.
if wanted feed; then DEMO_VIDEOS="${DEMO_VIDEOS:-10000}"; else DEMO_VIDEOS="${DEMO_VIDEOS:-36}"; fi

command -v wrk >/dev/null || { echo "wrk is missing: apt-get update && apt-get install -y wrk" >&2; exit 1; }
command -v curl >/dev/null || { echo "curl is missing" >&2; exit 1; }

TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
if [[ "$PROFILE" == "dev" ]]; then BIN="$TARGET_DIR/debug/local"; else BIN="$TARGET_DIR/$PROFILE/local"; fi
if [[ "${SKIP_BUILD:-0}" != "1" ]]; then
  echo "== cargo build --profile $PROFILE -p local"
  (cd "$ROOT" && cargo build --profile "$PROFILE" -p local)
fi
[[ -x "$BIN" ]] || { echo "no binary at $BIN (build it or unset SKIP_BUILD)" >&2; exit 1; }

WORK="$(mktemp -d "${TMPDIR:-/tmp}/bench-load.XXXXXX")"
SERVER_PID=""
cleanup() {
  if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')"
BASE="http://127.0.0.1:$PORT"

echo "== starting $BIN serve --memory --demo on $BASE"
LOG_FORMAT=text RUST_LOG="${RUST_LOG:-warn}" DATA_DIR="$WORK/data" \
  "$BIN" serve --host 127.0.0.1 --port "$PORT" --memory --demo --data-dir "$WORK/data" \
    --demo-products "$DEMO_PRODUCTS" --demo-videos "$DEMO_VIDEOS" $EXTRA_SERVE_ARGS \
  >"$WORK/server.log" 2>&1 &
SERVER_PID=$!

# /health answers as soon as the socket is served; the demo users are seeded right after, so
# also retry the login until it succeeds.
ready=""
for _ in $(seq 1 $((START_TIMEOUT * 5))); do
  kill -0 "$SERVER_PID" 2>/dev/null || { echo "server exited:" >&2; cat "$WORK/server.log" >&2; exit 1; }
  if curl -fsS "$BASE/health" >/dev/null 2>&1; then ready=1; break; fi
  sleep 0.2
done
[[ -n "$ready" ]] || { echo "server not healthy after $START_TIMEOUT s" >&2; tail -20 "$WORK/server.log" >&2; exit 1; }
# The banner is printed once the demo users, catalog, orders and FBT rules are all in place.
seeded=""
for _ in $(seq 1 1200); do
  kill -0 "$SERVER_PID" 2>/dev/null || { echo "server exited:" >&2; cat "$WORK/server.log" >&2; exit 1; }
  if grep -q "Serving on" "$WORK/server.log"; then seeded=1; break; fi
  sleep 0.5
done
[[ -n "$seeded" ]] || { echo "demo data not seeded after 10 min" >&2; tail -20 "$WORK/server.log" >&2; exit 1; }

TOKEN=""
for _ in $(seq 1 150); do
  resp="$(curl -sS -X POST "$BASE/api/v1/auth/login" \
    -H 'Content-Type: application/x-www-form-urlencoded' \
    --data 'username=customer000&password=password123' || true)"
  TOKEN="$(printf '%s' "$resp" | python3 -c 'import json,sys
try: print(json.load(sys.stdin).get("access_token",""))
except Exception: print("")')"
  [[ -n "$TOKEN" ]] && break
  sleep 0.2
done
[[ -n "$TOKEN" ]] || { echo "login failed: $resp" >&2; exit 1; }
code="$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$BASE/api/v1/users/profile")"
[[ "$code" == 200 ]] || { echo "GET /api/v1/users/profile answered $code" >&2; exit 1; }

run_wrk() { # name conns [wrk args...]
  local name="$1" conns="$2"; shift 2
  echo "== $name: wrk -t$THREADS -c$conns -d$DURATION --latency" >&2
  wrk -t"$THREADS" -c"$conns" -d"$DURATION" --timeout "$TIMEOUT" --latency "$@" >"$WORK/$name.txt"
  cat "$WORK/$name.txt" >&2
}
summary() { # name label -> "label req/s p50 p99 non2xx errors"
  awk '
    /Requests\/sec:/ {rps=$2}
    /^ +50%/ {p50=$2}
    /^ +99%/ {p99=$2}
    /Non-2xx or 3xx responses:/ {bad=$NF}
    /Socket errors:/ {err=$0; sub(/.*Socket errors: /,"",err)}
    END {printf "%-28s %10s %10s %10s %8s  %s\n", NAME, rps, p50, p99, (bad==""?0:bad), (err==""?"-":err)}
  ' NAME="$2" "$WORK/$1.txt"
}

wanted login && run_wrk login "$LOGIN_CONNS" -s "$BENCH/login.lua" "$BASE/api/v1/auth/login"
wanted profile && run_wrk profile "$CONNS" -H "Authorization: Bearer $TOKEN" "$BASE/api/v1/users/profile"

# warm_post NAME EVENT PATH: writes the body of events/EVENT to $WORK/NAME.json and posts it once
# to PATH (which must answer 200); the wrk scenario then posts the same body.
warm_post() {
  local name="$1" event="$2" path="$3" code
  python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["body"], end="")' \
    "$ROOT/events/$event" >"$WORK/$name.json"
  code="$(curl -s -o "$WORK/$name.warm" -w '%{http_code}' -H 'Content-Type: application/json' \
    --data-binary "@$WORK/$name.json" "$BASE$path")"
  [[ "$code" == 200 ]] || { echo "$name warm-up answered $code: $(cat "$WORK/$name.warm")" >&2; exit 1; }
}

# Personalize: the warm-up fills the adaptation cache, and a repeat must come from it.
if wanted personalize; then
  warm_post personalize textbook-personalize.json /api/personalization/personalize
  curl -s -H 'Content-Type: application/json' --data-binary "@$WORK/personalize.json" \
    "$BASE/api/personalization/personalize" | python3 -c 'import json,sys; sys.exit(0 if json.load(sys.stdin).get("cached") is True else 1)' \
    || { echo "a repeated personalize request did not come from the cache" >&2; exit 1; }
  BENCH_BODY="$WORK/personalize.json" run_wrk personalize "$CONNS" -s "$BENCH/post_json.lua" \
    "$BASE/api/personalization/personalize"
fi

total="$(curl -s "$BASE/api/v1/products?size=1" | python3 -c 'import json,sys; print(json.load(sys.stdin).get("total",0))')"
echo "== catalog: $total active products listed"
LIST_PATH="/api/v1/products?category=Electronics&in_stock=true&sort_by=price&sort_order=asc&size=20"
PRODUCT_ID="$(curl -s "$BASE$LIST_PATH" | python3 -c 'import json,sys; print(json.load(sys.stdin)["items"][0]["id"])')"
SIMILAR_PATH="/api/v1/products/$PRODUCT_ID/similar?limit=10"
SEARCH_PATH="/api/v1/search?q=wireless%20headphones&page_size=20"
# The first request of each kind builds what the snapshot lacks (vectors for similar, the word
# index for search) once per instance; it is timed on its own, then the load measures the warm path.
first() { # name path
  curl -s -o /dev/null -w '%{time_total}' "$BASE$2" | awk -v n="$1" '{printf "%s %.1f ms\n", n, $1 * 1000}' >>"$WORK/first.txt"
}
wanted list && first list "$LIST_PATH" && run_wrk list "$CONNS" "$BASE$LIST_PATH"
wanted similar && first similar "$SIMILAR_PATH" && run_wrk similar "$CONNS" "$BASE$SIMILAR_PATH"
wanted search && first search "$SEARCH_PATH" && run_wrk search "$CONNS" "$BASE$SEARCH_PATH"
if wanted classify; then
  warm_post classify classroom-classify.json /classify
  BENCH_BODY="$WORK/classify.json" run_wrk classify "$CONNS" -s "$BENCH/post_json.lua" "$BASE/classify"
fi
if wanted detail; then
  run_wrk detail "$CONNS" -H "Authorization: Bearer $TOKEN" "$BASE/api/v1/products/$PRODUCT_ID"
fi
if wanted cartadd; then
  printf '{"product_id": "%s", "quantity": 1}' "$PRODUCT_ID" >"$WORK/cartadd.json"
  code="$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
    --data-binary "@$WORK/cartadd.json" "$BASE/api/v1/cart/add")"
  [[ "$code" == 200 ]] || { echo "cart add answered $code" >&2; exit 1; }
  BENCH_BODY="$WORK/cartadd.json" run_wrk cartadd "$CONNS" -s "$BENCH/post_json.lua" "$BASE/api/v1/cart/add"
fi
REC_HOME_PATH="/api/v1/recommendations/user?recommendation_type=homepage&limit=10"
if wanted rechome; then
  curl -s -o /dev/null -w '%{time_total}' -H "Authorization: Bearer $TOKEN" "$BASE$REC_HOME_PATH" \
    | awk '{printf "rechome %.1f ms\n", $1 * 1000}' >>"$WORK/first.txt"
  count="$(curl -s -H "Authorization: Bearer $TOKEN" "$BASE$REC_HOME_PATH" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')"
  [[ "$count" == 10 ]] || { echo "the homepage list has $count items, not 10" >&2; exit 1; }
  run_wrk rechome "$CONNS" -H "Authorization: Bearer $TOKEN" "$BASE$REC_HOME_PATH"
fi
wanted rectrending && first rectrending "/api/v1/recommendations/trending?limit=10" \
  && run_wrk rectrending "$CONNS" "$BASE/api/v1/recommendations/trending?limit=10"
wanted recpopular && first recpopular "/api/v1/recommendations/popular?limit=10" \
  && run_wrk recpopular "$CONNS" "$BASE/api/v1/recommendations/popular?limit=10"
# Spec 000 personalization: customer000 about themselves, content performance as the admin.
if wanted psegs || wanted psegsfresh || wanted psegrec || wanted psegrecfresh || wanted pcontent \
  || wanted pcontentfresh || wanted pperf; then
  P="/api/analytics/personalization"
  ME="$(curl -s -H "Authorization: Bearer $TOKEN" "$BASE/api/v1/users/profile" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')"
  SEGMENT="$(curl -s -H "Authorization: Bearer $TOKEN" "$BASE$P/user/$ME/segments" \
    | python3 -c 'import json,sys; d=json.load(sys.stdin)["data"]; print([x["segment_id"] for x in d["details"] if x["segment_type"]=="activity_level"][0])')"
  echo "== personalization: customer000 $ME, segment $SEGMENT" >&2
  for path in "$P/user/$ME/segments" "$P/segment/$SEGMENT/recommendations" "$P/user/$ME/content?limit=10"; do
    curl -s -o /dev/null -w '%{time_total}' -H "Authorization: Bearer $TOKEN" "$BASE$path" \
      | awk -v n="$path" '{printf "%s %.1f ms\n", n, $1 * 1000}' >>"$WORK/first.txt"
    code="$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$BASE$path")"
    [[ "$code" == 200 ]] || { echo "$path answered $code" >&2; exit 1; }
  done
  wanted psegs && run_wrk psegs "$CONNS" -H "Authorization: Bearer $TOKEN" "$BASE$P/user/$ME/segments"
  wanted psegsfresh && run_wrk psegsfresh "$CONNS" -H "Authorization: Bearer $TOKEN" \
    -H 'Cache-Control: no-cache' "$BASE$P/user/$ME/segments"
  wanted psegrec && run_wrk psegrec "$CONNS" -H "Authorization: Bearer $TOKEN" \
    "$BASE$P/segment/$SEGMENT/recommendations"
  wanted psegrecfresh && run_wrk psegrecfresh "$CONNS" -H "Authorization: Bearer $TOKEN" \
    -H 'Cache-Control: no-cache' "$BASE$P/segment/$SEGMENT/recommendations"
  wanted pcontent && run_wrk pcontent "$CONNS" -H "Authorization: Bearer $TOKEN" \
    "$BASE$P/user/$ME/content?limit=10"
  wanted pcontentfresh && run_wrk pcontentfresh "$CONNS" -H "Authorization: Bearer $TOKEN" \
    -H 'Cache-Control: no-cache' "$BASE$P/user/$ME/content?limit=10"
  if wanted pperf; then
    ADMIN_TOKEN="$(curl -sS -X POST "$BASE/api/v1/auth/login" -H 'Content-Type: application/x-www-form-urlencoded' \
      --data 'username=admin@ecommerce.com&password=admin123' | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')"
    code="$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $ADMIN_TOKEN" "$BASE$P/content/$PRODUCT_ID")"
    [[ "$code" == 200 ]] || { echo "content performance answered $code" >&2; exit 1; }
    run_wrk pperf "$CONNS" -H "Authorization: Bearer $ADMIN_TOKEN" "$BASE$P/content/$PRODUCT_ID"
  fi
fi
if wanted feed; then
  FEED_PATH="/api/v1/shoppable-videos/?limit=10"
  count="$(curl -s -H "Authorization: Bearer $TOKEN" "$BASE$FEED_PATH" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')"
  [[ "$count" == 10 ]] || { echo "the feed answered $count videos, not 10" >&2; exit 1; }
  echo "== feed: $DEMO_VIDEOS demo videos; customer000's page has $count"
  run_wrk feed "$CONNS" -H "Authorization: Bearer $TOKEN" "$BASE$FEED_PATH"
fi

echo
echo "== results (profile=$PROFILE, $(nproc) cores, wrk -t$THREADS -d$DURATION; login -c$LOGIN_CONNS, profile -c$CONNS; RECORD_INTERACTIONS=$RECORD_INTERACTIONS)"
printf "%-28s %10s %10s %10s %8s  %s\n" scenario "req/s" p50 p99 non-2xx "socket errors"
wanted login && summary login "POST auth/login (argon2)"
wanted profile && summary profile "GET users/profile"
wanted personalize && summary personalize "POST personalize (cached)"
wanted list && summary list "GET products (2 filters+sort)"
wanted similar && summary similar "GET products/{id}/similar"
wanted search && summary search "GET search (two words)"
wanted classify && summary classify "POST classify"
wanted feed && summary feed "GET shoppable-videos (feed)"
wanted detail && summary detail "GET products/{id} (signed in)"
wanted cartadd && summary cartadd "POST cart/add (new guest)"
wanted rechome && summary rechome "GET recommendations homepage"
wanted rectrending && summary rectrending "GET recommendations/trending"
wanted recpopular && summary recpopular "GET recommendations/popular"
wanted psegs && summary psegs "GET p13n user segments"
wanted psegsfresh && summary psegsfresh "  same, no-cache"
wanted psegrec && summary psegrec "GET p13n segment recs"
wanted psegrecfresh && summary psegrecfresh "  same, no-cache"
wanted pcontent && summary pcontent "GET p13n user content"
wanted pcontentfresh && summary pcontentfresh "  same, no-cache"
wanted pperf && summary pperf "GET p13n content perf"
if [[ -s "$WORK/first.txt" ]]; then
  echo "first request of each kind on this instance (builds its part of the snapshot, loads models):"
  sed 's/^/  /' "$WORK/first.txt"
fi
true
