"""Two requests on one task at the same moment: exactly one wins, the other gets 409."""
import threading

from tests.bpmn_samples import three_steps
from tests.scenario import Dibao


def _race(app, token, path, body, n=4):
    barrier = threading.Barrier(n)
    results = []

    def worker():
        client = app.test_client()
        barrier.wait()
        response = client.post(path, json=body, headers={"Authorization": f"Bearer {token}"})
        results.append(response.status_code)

    threads = [threading.Thread(target=worker) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sorted(results)


def test_concurrency__complete_same_task_at_once(app, login):
    designer = login("designer")
    designer.post("process-definitions", data=three_steps(), headers={"Content-Type": "application/xml"})
    clerk = login("jd_heping")
    for _ in range(5):
        body = clerk.post("process-instances", json={"process_key": "three_steps"}).get_json()
        task_id = body["tasks"][0]["id"]
        token = clerk.headers["Authorization"][7:]
        results = _race(app, token, f"/api/v1/tasks/{task_id}/complete", {"data": {}})
        assert results == [200, 409, 409, 409]
        tasks = clerk.get(f"process-instances/{body['id']}").get_json()["tasks"]
        assert [t["name"] for t in tasks] == ["B"]  # moved exactly one step


def test_concurrency__claim_same_task_at_once(app, login):
    case = Dibao(login)
    task = case.open_task("accept", "jd_heping")
    token = login("jd_heping").headers["Authorization"][7:]
    results = _race(app, token, f"/api/v1/tasks/{task['id']}/claim", {})
    # The same user claiming twice is idempotent; what matters is a single assignee and no error.
    assert set(results) == {200}
    assert case.open_task("accept", "jd_heping")["assignee"] == "jd_heping"
