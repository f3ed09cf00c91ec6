-- wrk script for GET /api/billing/usage as many users: each request
-- carries the next user's token from a file of tokens, one per line
-- (scripts/bench writes it with xsb-token), thread t taking lines n with
-- n % THREADS == t, round and round.
--
--   wrk ... -s usage.lua URL -- FILE THREADS
--
-- The file is small (a few hundred tokens): init() reads this thread's
-- share and formats each request once.  done() prints summary.lua's
-- figures.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local print_summary = dofile(here .. "summary.lua")
local counter = 0

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
end

function init(args)
  local nthreads = tonumber(args[2])
  local n = 0
  reqs = {}
  for line in io.lines(args[1]) do
    if line ~= "" then
      if n % nthreads == tid then
        reqs[#reqs + 1] = wrk.format("GET", nil,
          { Authorization = "Bearer " .. line })
      end
      n = n + 1
    end
  end
  assert(#reqs > 0, "no tokens for thread " .. tid)
  at = 0
end

function request()
  at = at % #reqs + 1
  return reqs[at]
end

function done(summary, latency, requests)
  print_summary(summary, latency, 0)
end
