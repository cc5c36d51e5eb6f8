-- wrk script for bench/http-redirect.sh: every request carries an
-- X-Forwarded-For header with the next client address of a list (one a
-- line, file named by WRK_XFF_FILE), cycling through it, and the Host of the
-- service (WRK_HOST); paths cycle through a few with and without a query.
-- The requests are formatted once in init(), so wrk spends no time per
-- request building them.

local host = os.getenv("WRK_HOST") or "www.bench.test"
-- Set before wrk.init runs, so that wrk does not put 127.0.0.1:PORT there.
wrk.headers["Host"] = host

local paths = { "/", "/index.html", "/a/b/c?x=1&y=2", "/search?q=geo+dns&lang=en" }
local reqs = {}
local n = 0
local i = 0

function init(args)
	local file = os.getenv("WRK_XFF_FILE")
	if not file then
		error("WRK_XFF_FILE is not set")
	end
	for line in io.lines(file) do
		if line ~= "" then
			n = n + 1
			reqs[n] = wrk.format("GET", paths[(n - 1) % #paths + 1],
				{ ["X-Forwarded-For"] = line })
		end
	end
	if n == 0 then
		error(file .. ": no address")
	end
end

function request()
	i = i % n + 1
	return reqs[i]
end
