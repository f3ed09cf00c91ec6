-- wrk script: POSTs pre-signed requests from a file of
-- <signature>\t<body> lines, each thread taking its own slice, so every
-- request carries a different event (or, with a duplicate file, the same
-- one).  Used for Stripe events (the default) and Twilio status callbacks.
--
--   wrk ... -s webhook.lua URL -- FILE THREADS [PATH HEADER CTYPE ONCE]
--
--   FILE    lines of <signature>\t<body> (gen-events.mjs, gen-twilio.mjs)
--   THREADS wrk's -t (thread t sends lines n with n % THREADS == t)
--   PATH    request path (default /stripe/webhook)
--   HEADER  signature header (default Stripe-Signature)
--   CTYPE   Content-Type (default application/json)
--   ONCE    "once": a thread stops at the end of the file instead of
--           starting over, so a unique workload never turns into
--           redeliveries (wrk still divides by the full duration: the
--           rate is then a lower bound); "loop" (the default) cycles.
--
-- When FILE.<t> exists (t = 0 .. THREADS-1), thread t reads that file
-- instead: the same lines, dealt ahead of the run.
--
-- The file is read as requests are sent, not loaded in init(): wrk runs
-- each thread's init() before starting the next thread but starts its
-- clock only after the last one, so a slow init() lets the first thread
-- work unclocked (seen: rates inflated by the seconds it takes to load a
-- large file); and a whole file of strings kept live makes LuaJIT's
-- collector walk it over and over.  There is no response() callback
-- (wrk then skips handing each reply to Lua): a 2xx status counts as
-- acknowledged, anything else is in wrk's errors.status.
--
-- done() prints the figures of summary.lua for scripts/bench to read.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local print_summary = dofile(here .. "summary.lua")
local threads = {}
local counter = 0

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  file = args[1]
  nthreads = tonumber(args[2])
  path = args[3] or "/stripe/webhook"
  header = args[4] or "Stripe-Signature"
  ctype = args[5] or "application/json"
  once = args[6] == "once"
  -- FILE.<thread> (written by scripts/bench) holds this thread's lines
  -- only: no reading and dropping the other threads' share.
  f = io.open(file .. "." .. tid, "r")
  if f then nthreads = 1; tid = 0 else f = assert(io.open(file, "r")) end
  exhausted = 0
  last = nil
end

-- Returns this thread's next line, or nil at the end of the file.
local function nextline()
  local l
  for _ = 0, nthreads - 1 do
    l = f:read("*l")
    if l == nil then return nil end
    -- Lines are dealt round-robin: keep one in nthreads.
    if pos == nil then pos = 0 end
    local mine = pos % nthreads == tid
    pos = pos + 1
    if mine then return l end
  end
  return nil
end

function request()
  local l = nextline()
  if l == nil then
    if once then
      -- The requests in flight still complete; no new one starts.
      if exhausted == 0 then
        exhausted = 1
        wrk.thread:stop()
      end
      return last
    end
    f:seek("set", 0)
    pos = 0
    l = nextline()
  end
  local tab = l:find("\t", 1, true)
  last = wrk.format("POST", path,
    { ["Content-Type"] = ctype, [header] = l:sub(1, tab - 1) }, l:sub(tab + 1))
  return last
end

function done(summary, latency, requests)
  local x = 0
  for _, t in ipairs(threads) do x = x + t:get("exhausted") end
  print_summary(summary, latency, x)
end
