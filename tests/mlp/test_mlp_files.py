"""``gputrain mlp`` and the files people have: compressed tables, Arrow streams, and model
files and outputs that must never be lost or read as garbage."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.csv as pcsv

FAST = ["--hidden", "8", "--epochs", "2", "--batch-size", "64", "--quiet", "--device", "cpu"]


def test_train_on_zstd_csv_and_predict_to_gzipped_csv(tmp_path, cli, table, tables):
    plain = tables.write(table, tmp_path / "d.csv")
    packed = tmp_path / "d.csv.zst"
    with pa.output_stream(str(packed), compression="zstd") as out:
        out.write(open(plain, "rb").read())
    model = tmp_path / "m"
    assert cli.run("mlp", "train", packed, "--label", "animal", *FAST, "-o", model)[0] == 0
    preds = tmp_path / "p.csv.gz"
    code, out, err = cli.run("mlp", "predict", model, packed, "-o", preds)
    assert code == 0, err
    with pa.input_stream(str(preds), compression="gzip") as f:
        back = pcsv.read_csv(f)
    assert back.num_rows == 400 and back.column_names[0] == "prediction"
