-- Reverts 0018: the search-hit function (builds before it join in their own statement).

DROP FUNCTION memory.search_hits;
