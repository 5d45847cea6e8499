-- Token endpoint load: refresh_token grants by a public client, each returning a signed
-- id_token. Refresh tokens rotate (single use) and a reused one revokes its whole grant, so
-- no token is ever sent twice: each wrk thread keeps a pool of live tokens, every request
-- takes one out, and every 200 answer puts the rotated token back. A connection has one
-- request in flight, so a pool holding more tokens than the thread's connections never runs
-- dry; if it does (after errors), the request carries "exhausted" and counts as non-2xx.
--
--   BENCH_WRK_DIR=bench/wrk wrk -t2 -c32 -d10s --latency -s bench/wrk/refresh.lua \
--     http://HOST:PORT/token -- TOKENS_FILE CLIENT_ID THREADS
-- TOKENS_FILE has one refresh token per line; thread i of THREADS (wrk -t) takes lines i,
-- i+THREADS, i+2*THREADS, ...

dofile((os.getenv("BENCH_WRK_DIR") or "bench/wrk") .. "/report.lua")

local threads = 0

function setup(thread)
  thread:set("thread_index", threads)
  threads = threads + 1
end

local pool = {}
local client_id
local headers = { ["Content-Type"] = "application/x-www-form-urlencoded",
                  ["Accept"] = "application/json" }

function init(args)
  local file, count = args[1], tonumber(args[3])
  client_id = args[2]
  local i = 0
  for line in io.lines(file) do
    if line ~= "" then
      if i % count == thread_index then pool[#pool + 1] = line end
      i = i + 1
    end
  end
end

function request()
  local token = table.remove(pool) or "exhausted"
  return wrk.format("POST", wrk.path, headers,
                    "grant_type=refresh_token&client_id=" .. client_id .. "&refresh_token=" .. token)
end

function response(status, headers, body)
  if status == 200 then
    local token = body:match('"refresh_token"%s*:%s*"([^"]+)"')
    if token and body:find('"id_token"', 1, true) then pool[#pool + 1] = token end
  end
end
