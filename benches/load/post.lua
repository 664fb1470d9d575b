-- wrk script for the REST load test: POSTs the JSON body in $BODY with the bearer token in $TOKEN.
local f = io.open(os.getenv("BODY"), "r")
local body = f:read("*a")
f:close()
wrk.method = "POST"
wrk.body = body
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
