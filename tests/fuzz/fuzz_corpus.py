"""Runs a fuzz harness of tests/fuzz over a fresh seed corpus (seeds.py):

    python3 fuzz_corpus.py replay NAME BUILD_DIR MUTATIONS
        every seed, then MUTATIONS deterministic mutations of each, through
        fuzz_NAME_replay (any compiler; the sanitizer build catches what
        plain runs miss)
    python3 fuzz_corpus.py run NAME BUILD_DIR SECONDS
        libFuzzer (fuzz_NAME, a clang -DXINF_FUZZ=ON build) for SECONDS,
        starting from the seeds; the corpus grows in a temporary folder

Exit 0 when the harness survived; the harness's own output otherwise."""
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    mode, name, build_dir, amount = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
    corpus = tempfile.mkdtemp(prefix=f"xinf-fuzz-{name}-")
    try:
        subprocess.run([sys.executable, os.path.join(HERE, "seeds.py"), name, corpus, build_dir], check=True,
                       timeout=120)
        binary_dir = os.path.join(build_dir, "tests", "fuzz")
        if mode == "replay":
            argv = [os.path.join(binary_dir, f"fuzz_{name}_replay"), "--mutations", amount, corpus]
        else:
            argv = [os.path.join(binary_dir, f"fuzz_{name}"), f"-max_total_time={amount}", "-seed=1",
                    "-rss_limit_mb=4096", "-timeout=10", "-print_final_stats=1", corpus]
        result = subprocess.run(argv, timeout=int(amount) * 20 + 120 if mode == "run" else 1200)
        sys.exit(result.returncode)
    finally:
        shutil.rmtree(corpus, ignore_errors=True)


if __name__ == "__main__":
    main()
