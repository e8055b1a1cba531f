"""An input cannot change under a job: its size and SHA-256 are recorded at submission,
replacing it while a queued or running job uses it is refused (409), and a file changed
behind the server's back fails the job instead of training on something else."""

import hashlib

SLOW = {"label": "label", "epochs": 100000, "patience": 0, "hidden": "8", "val_split": 0,
        "batch_size": 4}


def test_inputs_in_use_cannot_be_replaced_and_the_job_shows_their_hash(
        start_server, tmp_path, make_table, waiter):
    server = start_server(None, "--workers", "1")
    table = make_table(tmp_path / "t.csv").read_bytes()
    other = make_table(tmp_path / "u.csv", seed=1).read_bytes()
    with server.client() as api:
        assert api.put("/inputs/t.csv", content=table).status_code == 201
        assert api.put("/inputs/u.csv", content=other).status_code == 201
        running = api.post("/jobs", json={"kind": "mlp", "input": "./t.csv",
                                          "params": SLOW}).json()
        assert running["input"] == "t.csv"
        assert running["input_size_bytes"] == len(table)
        assert running["input_sha256"] == hashlib.sha256(table).hexdigest()
        queued = api.post("/jobs", json={"kind": "mlp", "input": "u.csv", "params": SLOW}).json()
        waiter(lambda: api.get(f"/jobs/{running['id']}").json()["progress"] > 0, 60,
               "the first job to run")

        for name, user in (("t.csv", running), ("u.csv", queued)):
            r = api.put(f"/inputs/{name}", content=b"a,label\n1,0\n")
            assert r.status_code == 409, r.text
            assert user["id"] in r.json()["detail"]
        assert api.put("/inputs/v.csv", content=other).status_code == 201  # a new name is fine

        # changed behind the server's back (not through the API): the job fails, saying so
        (server.data_dir / "inputs" / "u.csv").write_bytes(other + b"9,9,9,1\n")
        api.post(f"/jobs/{running['id']}/cancel")
        job = waiter(lambda: (j := api.get(f"/jobs/{queued['id']}").json())["state"]
                     in ("failed", "succeeded") and j, 60, "the queued job to run")
        assert job["state"] == "failed"
        assert job["error"].startswith("input u.csv changed since the job was submitted"), job
        waiter(lambda: api.get(f"/jobs/{running['id']}").json()["state"] == "cancelled", 30,
               "the cancel")
        assert api.put("/inputs/t.csv", content=other).status_code == 201  # no longer in use
