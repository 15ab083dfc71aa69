-- search.lua: wrk script sending a fixed mix of real queries, in turn.
-- The queries use words, phrases, OR and exclusions as readers type them.
local queries = {
  "cocoa", "oil%20prices", "%22interest%20rates%22", "opec%20-saudi", "grain%20OR%20wheat",
  "dollar%20yen", "merger%20acquisition", "bank%20rate%20cut", "coffee%20quota",
  "crude%20oil%20output", "%22trade%20deficit%22", "gold", "bundesbank", "takeover%20bid",
  "sugar%20-cocoa", "soybean%20OR%20corn", "quarterly%20dividend", "japan%20tariffs",
  "%22money%20supply%22", "shipping%20strike",
}
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", "/v1/articles?q=" .. queries[(i % #queries) + 1])
end
