-- additem.lua - wrk script of bench/run: every request is the cart's AddItem
-- with a WS-Addressing 1.0 header block (Action, a MessageID never sent
-- before, To) and the pc:ConversationID header, cycling over live
-- conversations that the driver started beforehand (wrk's init cannot send).
--
--   wrk -t2 -c16 -d10s --latency -s bench/additem.lua URL/services/cart -- \
--       ids=FILE threads=2 tag=1a2b3c4d
--
-- ids      a file of conversation IDs, one a line (bench/run writes it)
-- threads  wrk's -t: thread k takes the IDs k, k+threads, k+2*threads...,
--          so two threads never hold the same conversation
-- tag      8 hex digits unique to this wrk run, in every MessageID: parleyd
--          replays the kept answer of a MessageID it has seen (nothing runs),
--          so a second run must not repeat the first one's
-- ns, action, item
--          the request element's namespace, the wsa:Action, the item name;
--          the defaults are the cart's (bench/echo.lua sets the echo's)
--
-- Every request of a run has the same size. done() prints one line that
-- starts with "BENCH " for the driver.

local defaults = BENCH_DEFAULTS or {
   ns = "urn:parley:samples:cart",
   action = "urn:parley:samples:cart/AddItem",
   item = "widget",
}

local next_tid = 0

function setup(thread)
   thread:set("tid", next_tid)
   next_tid = next_tid + 1
end

local opts, ids, n, head, tail, to

local function parse(args)
   local o = {}
   for k, v in pairs(defaults) do o[k] = v end
   for _, a in ipairs(args) do
      local k, v = a:match("^([%w_]+)=(.*)$")
      if not k then error("additem.lua: arguments are key=value, got " .. a) end
      o[k] = v
   end
   return o
end

function init(args)
   opts = parse(args)
   local threads = tonumber(opts.threads or "1")
   if not opts.ids then error("additem.lua: give ids=FILE (conversation IDs, one a line)") end
   if not (opts.tag and opts.tag:match("^%x%x%x%x%x%x%x%x$")) then
      error("additem.lua: give tag=8 hex digits, unique to this run")
   end
   ids = {}
   local i = 0
   for line in io.lines(opts.ids) do
      if line ~= "" then
         if i % threads == tid then ids[#ids + 1] = line end
         i = i + 1
      end
   end
   if #ids == 0 then error("additem.lua: no conversation IDs for thread " .. tid) end
   n = 0
   to = "http://" .. wrk.host .. ":" .. wrk.port .. wrk.path
   local wsa = "http://www.w3.org/2005/08/addressing"
   head = '<?xml version="1.0" encoding="UTF-8"?>'
      .. '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:wsa="' .. wsa .. '">'
      .. '<s:Header><wsa:Action>' .. opts.action .. '</wsa:Action><wsa:MessageID>'
   tail = '</wsa:MessageID><wsa:To>' .. to .. '</wsa:To>'
   wrk.headers["Content-Type"] = "text/xml; charset=utf-8"
   wrk.headers["SOAPAction"] = '"' .. opts.action .. '"'
end

function request()
   n = n + 1
   local id = ids[n % #ids + 1]
   -- urn:uuid: form, fixed width: run tag, thread, request number.
   local msgid = string.format("urn:uuid:%s-%04x-4000-8000-%04x%08x", opts.tag, tid,
      math.floor(n / 4294967296), n % 4294967296)
   local body = head .. msgid .. tail
      .. '<pc:ConversationID xmlns:pc="urn:parley:conversation">' .. id .. '</pc:ConversationID>'
      .. '</s:Header><s:Body><c:AddItem xmlns:c="' .. opts.ns .. '"><c:item>' .. opts.item
      .. '</c:item><c:qty>1</c:qty></c:AddItem></s:Body></s:Envelope>'
   return wrk.format("POST", nil, nil, body)
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format("BENCH requests=%d duration_us=%d bytes=%d connect=%d read=%d write=%d"
      .. " status=%d timeout=%d p50_us=%d p90_us=%d p99_us=%d p999_us=%d max_us=%d mean_us=%.1f\n",
      summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write,
      e.status, e.timeout, latency:percentile(50), latency:percentile(90),
      latency:percentile(99), latency:percentile(99.9), latency.max, latency.mean))
end
