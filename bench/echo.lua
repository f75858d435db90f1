-- echo.lua - wrk script of bench/run for the baselines (bench/echo/echo_server
-- and bench/http_echo): additem.lua's request, in the echo service's
-- namespace and action (4 bytes shorter than the cart's). Arguments as for additem.lua;
-- ids= may name any IDs of the right form (the echo keeps no conversations).

BENCH_DEFAULTS = {
   ns = "urn:parley:bench:echo",
   action = "urn:parley:bench:echo/AddItem",
   item = "widget",
}

local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "additem.lua")
