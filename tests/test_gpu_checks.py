"""bench/gpu_checks.py's table from the parts a run of bench/gpu_checks.sh
left, whole or cut short (the script itself: `--cpu-smoke`, in bench)."""
import json

from bench import gpu_checks

TESTS_XML = ('<?xml version="1.0"?><testsuites><testsuite name="pytest" errors="0" failures="1" skipped="2" '
             'tests="23" time="61.5"></testsuite></testsuites>')


def write_parts(out):
    gpu_checks.write_part(out, "machine", {
        "date": "2026-12-03 08:00 UTC", "gpu": "NVIDIA H200", "nvidia_smi": "NVIDIA H200, 580.1, 143771 MiB, Disabled",
        "torch": "2.11.0+cu130", "cuda": "13.0", "cpu_cores": 16, "sample_cost_us": 180.0,
        "sample": {"cpu_percent": 3.0, "rss_mb": 700.0, "gpu_util_percent": 0.0, "gpu_mem_used_mb": 600.0,
                   "gpu_mem_total_mb": 143771.0, "gpu_temp_c": 31.0, "gpu_power_w": 75.0, "gpu_reason": None}})
    gpu_checks.write_part(out, "presets", {"seed_set": [16, 36, 26], "runs": [
        {"preset": "informative-quick", "status": "target_reached", "epochs": 12, "train_time_s": 1.2,
         "test_mse": 0.07, "verdict": "uses_signal", "time_goal_s": 10.0, "test_mse_goal": 0.1,
         "time_goal_met": True, "test_goal_met": True,
         "system": {"gpu_util_percent_mean": 41.0, "gpu_mem_used_mb_peak": 900.0}},
        {"preset": "literal-stateful", "status": "stopped at its 60 s limit", "epochs": 50, "train_time_s": 60.2,
         "test_mse": 0.3, "verdict": "learned_nothing", "time_goal_s": 30.0, "test_mse_goal": 0.01,
         "time_goal_met": False, "test_goal_met": False}]})
    gpu_checks.write_part(out, "tui", {"repeats": [{"latency_training_s": [0.02] * 18 + [0.2, 0.2]}], "ratios": [0.97]})
    gpu_checks.write_part(out, "jobs", {"runs": 4, "flags": ["--preset", "literal-stateful"], "walls": [
        {"jobs": 1, "wall_s": 40.0, "exit": 0, "runs_done": 4, "gpu_util_percent_mean": 30.0},
        {"jobs": 4, "wall_s": 20.0, "exit": 0, "runs_done": 4, "gpu_util_percent_mean": 70.0}]})
    (out / "parts" / "tests.xml").write_text(TESTS_XML)


def table(out):
    assert gpu_checks.main(["table", str(out), "--wall", "470", "--argv", "OUT"]) == 0
    return (out / "gpu_checks.md").read_text(), json.loads((out / "gpu_checks.json").read_text())


def test_the_table_has_a_row_for_every_part(tmp_path):
    write_parts(tmp_path)
    text, record = table(tmp_path)
    rows = {row[0]: row for row in record["rows"]}
    assert text.startswith("`bash bench/gpu_checks.sh OUT`, 2026-12-03 08:00 UTC: NVIDIA H200 (NVIDIA H200, 580.1")
    assert rows["GPU tests (tests/test_cuda.py)"][1:] == ["20 passed, 1 failed, 2 skipped in 62 s", "all pass", "**no**"]
    quick = rows["informative-quick, seeds 16/36/26"]
    assert quick[1] == ("target_reached after 12 epochs, 1.2 s; test MSE 0.07000, uses_signal; GPU 41%, peak 900 MB")
    assert quick[3] == "yes" and rows["literal-stateful, seeds 16/36/26"][3] == "**no**"
    assert rows["app: keypress to screen while training, p95"][1:] == ["200.0 ms (20 presses)", "<= 50 ms", "**no**"]
    assert rows["app: training throughput against headless"][1] == "97.0% (median of 1)"
    jobs = next(row for name, row in rows.items() if name.startswith("--jobs: wall of 4 runs"))
    assert jobs[1] == "J=1 40.0 s, GPU 30%; J=4 20.0 s (0.50x J=1's wall), GPU 70%"
    assert "GPU 0%, 600/143771 MB, 31 °C, 75 W (idle); 180 µs a look" in rows["system figures: one look"][1]
    assert set(record["parts"]) == {"machine", "presets", "tui", "jobs"} and "| check | result | goal | met |" in text


def test_parts_that_did_not_run_are_named(tmp_path):
    text, record = table(tmp_path)
    assert text.count("did not run") == 5 and "**no**" in text
    gpu_checks.write_part(tmp_path, "machine", {"sample_cost_us": 50.0, "sample": {
        "cpu_percent": 10.0, "rss_mb": 300.0, "gpu_reason": "GPU figures need nvidia-ml-py: pip install 'freq-lstm[gpu]'"}})
    text, record = table(tmp_path)
    assert "GPU figures not read: GPU figures need nvidia-ml-py" in text and "GPU 0" not in text
