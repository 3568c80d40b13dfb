import threading

from memory.response_cache import CachedResponse, ResponseCache, cache_key


def test_round_trip_and_persistence(tmp_path):
    path = tmp_path / "cache.sqlite"
    cache = ResponseCache(path)
    key = cache_key({"model": "m", "messages": [["human", "hi"]], "sample": 0})
    assert cache.get(key) is None
    cache.put(key, CachedResponse("hello", 3, 1))
    cache.close()
    reopened = ResponseCache(path)
    assert reopened.get(key) == CachedResponse("hello", 3, 1)
    assert len(reopened) == 1


def test_first_answer_wins(tmp_path):
    cache = ResponseCache(tmp_path / "c.sqlite")
    cache.put("k", CachedResponse("first", 1, 1))
    cache.put("k", CachedResponse("second", 1, 1))
    assert cache.get("k").text == "first"


def test_key_is_order_independent_and_content_sensitive():
    a = cache_key({"x": 1, "y": [1, 2]})
    assert a == cache_key({"y": [1, 2], "x": 1})
    assert a != cache_key({"x": 1, "y": [2, 1]})


def test_threads_share_the_file(tmp_path):
    cache = ResponseCache(tmp_path / "c.sqlite")

    def write(i: int) -> None:
        for j in range(50):
            cache.put(f"{i}-{j}", CachedResponse(str(j), 0, 0))

    threads = [threading.Thread(target=write, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(cache) == 200
    assert cache.get("3-49").text == "49"
