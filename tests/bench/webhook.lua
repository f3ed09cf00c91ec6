-- wrk script: POSTs the signed events of a file (<signature>\t<body> lines)
-- to /stripe/webhook, each thread taking its own slice, so every request
-- carries a different event (or, with a duplicate file, the same one).
local threads = {}
local counter = 0

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  nthreads = tonumber(args[2])
  lines = {}
  local f = assert(io.open(args[1], "r"))
  local n = 0
  for l in f:lines() do
    if n % nthreads == tid then
      local tab = l:find("\t", 1, true)
      table.insert(lines, { l:sub(1, tab - 1), l:sub(tab + 1) })
    end
    n = n + 1
  end
  f:close()
  i = 1
  ok = 0
  bad = 0
end

function request()
  local e = lines[i]
  i = i + 1
  if i > #lines then i = 1 end
  return wrk.format("POST", "/stripe/webhook",
    { ["Content-Type"] = "application/json", ["Stripe-Signature"] = e[1] }, e[2])
end

function response(status, headers, body)
  if status == 200 then ok = ok + 1 else bad = bad + 1 end
end

function done(summary, latency, requests)
  local o, b = 0, 0
  for _, t in ipairs(threads) do
    o = o + t:get("ok")
    b = b + t:get("bad")
  end
  io.write(string.format("ACK %d\nNON200 %d\nP50_US %d\nP99_US %d\n", o, b,
    latency:percentile(50), latency:percentile(99)))
end
