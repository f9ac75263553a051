"""wrk Lua scripts: one per scenario, data (tokens, ids) embedded as Lua tables.

Every script counts response statuses per wrk thread (``response``) and prints one JSON line
from ``done()``; the bare endpoint runs with the same hooks, so the ratio stays fair.
Authorization headers rotate over the tokens (one token per connection on average), and every
submission carries a fresh random ``Idempotency-Key``.
"""

import json

PRELUDE = """
local threads = {}
local counter = 0
function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

statuses = {}
function response(status, headers, body)
  local k = tostring(status)
  statuses[k] = (statuses[k] or 0) + 1
end

local function pick(list) return list[math.random(1, #list)] end
local function key()
  return string.format("%08x%08x%08x%08x", math.random(0, 2147483646),
    math.random(0, 2147483646), math.random(0, 2147483646), math.random(0, 2147483646))
end
local function auth(token, extra)
  local h = {["Authorization"] = "Bearer " .. token}
  if extra then for k, v in pairs(extra) do h[k] = v end end
  return h
end
local step = 0
function init(args)
  math.randomseed(os.time() + (tid or 0) * 7919)
  step = (tid or 0) * 997
  if prepare then prepare() end
end
"""

DONE = """
function done(summary, latency, requests)
  local merged = {}
  for _, t in ipairs(threads) do
    local s = t:get("statuses")
    if s then for k, v in pairs(s) do merged[k] = (merged[k] or 0) + v end end
  end
  local parts = {}
  for k, v in pairs(merged) do table.insert(parts, string.format('"%s": %d', k, v)) end
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.timeout
  io.write(string.format(
    'WRKJSON {"requests": %d, "duration_us": %d, "errors": %d, '
    .. '"p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, "statuses": {%s}}\\n',
    summary.requests, summary.duration, errors,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    table.concat(parts, ", ")))
end
"""


def lua_value(value) -> str:
    """A Python list/dict/str/number as a Lua literal (JSON strings are valid Lua strings
    for the ASCII data used here)."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"[{lua_value(k)}] = {lua_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "{" + ", ".join(lua_value(v) for v in value) + "}"
    return json.dumps(value)


def script(body: str, **data) -> str:
    lines = [f"local {name} = {lua_value(value)}" for name, value in data.items()]
    return "\n".join([PRELUDE, *lines, body, DONE])


NEARBY_FN = """
local function nearby()
  local lat = centre[1] + (math.random() - 0.5) * 0.06
  local lng = centre[2] + (math.random() - 0.5) * 0.06
  return wrk.format("GET", string.format("/api/v1/toilets/nearby?lat=%.6f&lng=%.6f", lat, lng))
end
"""

READ_FN = """
local function complaint_read()
  step = step + 1
  local r = residents[(step % #residents) + 1]
  if step % 2 == 0 then
    return wrk.format("GET", "/api/v1/complaints/" .. pick(r[2]), auth(r[1]))
  end
  return wrk.format("GET", "/api/v1/me/complaints", auth(r[1]))
end
"""

SUBMIT_FN = """
local mine = {}
function prepare()
  -- This thread's residents only, so two threads never claim the same upload.
  for i, r in ipairs(residents) do
    if (i - 1) % nthreads == (tid or 0) and #r[3] > 0 then table.insert(mine, {r[1], r[3], 1}) end
  end
end
local function submit()
  for _ = 1, #mine do
    step = step + 1
    local m = mine[(step % #mine) + 1]
    if m[3] <= #m[2] then
      local photo = m[2][m[3]]
      m[3] = m[3] + 1
      local body = string.format('{"category": "B0102", "description": "压测：井盖缺失 %s", '
        .. '"lat": %.6f, "lng": %.6f, "address": "人民路", "photo_ids": [%d]}',
        key(), centre[1] + math.random() * 0.01, centre[2] + math.random() * 0.01, photo)
      return wrk.format("POST", "/api/v1/complaints",
        auth(m[1], {["Content-Type"] = "application/json", ["Idempotency-Key"] = key()}), body)
    end
  end
  return nil  -- every upload used: the caller sends a read instead
end
"""

BOOK_FN = """
local function book()
  step = step + 1
  local token = farmers[(step % #farmers) + 1]
  return wrk.format("POST", "/api/v1/stalls/bookings",
    auth(token, {["Content-Type"] = "application/json", ["Idempotency-Key"] = key()}), booking)
end
"""


def nearby(centre) -> str:
    return script(NEARBY_FN + "request = nearby", centre=list(centre))


def revalidate(path: str, etag: str) -> str:
    return script(
        'request = function() return wrk.format("GET", path, {["If-None-Match"] = etag}) end',
        path=path,
        etag=etag,
    )


def reads(residents) -> str:
    return script(READ_FN + "request = complaint_read", residents=residents)


def booking(farmers, body: str) -> str:
    return script(BOOK_FN + "request = book", farmers=farmers, booking=body)


def mixed(centre, residents, farmers, body: str, threads: int) -> str:
    chooser = """
request = function()
  local x = math.random()
  if x < 0.80 then return nearby() end
  if x < 0.90 then return complaint_read() end
  if x < 0.95 then return submit() or complaint_read() end
  return book()
end
"""
    return script(
        NEARBY_FN + READ_FN + SUBMIT_FN + BOOK_FN + chooser,
        centre=list(centre),
        residents=residents,
        farmers=farmers,
        booking=body,
        nthreads=threads,
    )


def get(path: str) -> str:
    return script('request = function() return wrk.format("GET", path) end', path=path)


BARE = get("/bare")
