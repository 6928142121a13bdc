"""The install: cmake --install into a temporary prefix puts
include/xinf/xinf.h, libxinf.so, the CMake package (find_package(xinf),
target xinf::xinf) and xinf.pc there; examples/embed_worker.c builds
against that prefix alone, once with pkg-config and once with
find_package, and each build runs: the library it loads checks the options
(a bad supervisor endpoint is refused with the reason) and says its
version."""
import os
import shutil
import subprocess
import sys
import tempfile

from xinf_testlib import check, fail

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLE = os.path.join(HERE, "..", "examples", "embed_worker.c")


def run(args, what, env=None, timeout=240):
    result = subprocess.run(args, capture_output=True, text=True, timeout=timeout, env=env)
    if result.returncode != 0:
        fail(f"{what}: {' '.join(args)} exited {result.returncode}\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    return result


def sanitizer_flags(build_dir):
    """The sanitizer the build used (its libxinf.so needs it in the program too)."""
    with open(os.path.join(build_dir, "CMakeCache.txt")) as cache:
        text = cache.read()
    if "XINF_SANITIZE:BOOL=ON" in text:
        return ["-fsanitize=address,undefined"]
    if "XINF_TSAN:BOOL=ON" in text:
        return ["-fsanitize=thread"]
    return []


def check_program(program, prefix, how):
    """The built example loads the installed libxinf.so and its checks answer."""
    env = dict(os.environ, LD_LIBRARY_PATH=os.path.join(prefix, "lib"))
    result = subprocess.run([program, "-e", "udp://nowhere:1", "-n", "w"], capture_output=True, text=True,
                            timeout=30, env=env)
    check(result.returncode == 1 and "'udp://nowhere:1' must be tcp://HOST:PORT" in result.stderr,
          f"{how}: the installed example: rc {result.returncode}, stderr {result.stderr!r}")
    libraries = run(["ldd", program], f"{how}: ldd", env=env).stdout
    check(os.path.join(prefix, "lib", "libxinf.so") in libraries, f"{how}: not linked to the installed library:\n{libraries}")


def main():
    build_dir = sys.argv[1]
    work = tempfile.mkdtemp(prefix="xinf-test-install-")
    prefix = os.path.join(work, "prefix")
    run(["cmake", "--install", build_dir, "--prefix", prefix, "--component", "Unspecified"], "install")
    for path in ["include/xinf/xinf.h", "lib/libxinf.so", "lib/pkgconfig/xinf.pc", "lib/cmake/xinf/xinfConfig.cmake",
                 "lib/cmake/xinf/xinfConfigVersion.cmake", "lib/cmake/xinf/xinfTargets.cmake"]:
        check(os.path.exists(os.path.join(prefix, path)), f"the install lacks {path}: {sorted(os.listdir(prefix))}")
    exported = run(["nm", "-D", "--defined-only", os.path.join(prefix, "lib", "libxinf.so")], "nm").stdout
    names = sorted(line.split()[-1].split("@")[0] for line in exported.splitlines() if " T " in line)
    check(names == ["xinf_log_level", "xinf_node_endpoint", "xinf_node_stop", "xinf_supervisor_start",
                    "xinf_tune_malloc", "xinf_version", "xinf_worker_start"], f"libxinf.so exports more than include/xinf/xinf.h: {names}")

    # pkg-config, from the prefix alone
    env = dict(os.environ, PKG_CONFIG_PATH=os.path.join(prefix, "lib", "pkgconfig"))
    flags = run(["pkg-config", "--cflags", "--libs", "xinf", "libczmq"], "pkg-config", env=env).stdout.split()
    check(f"-I{prefix}/include" in [os.path.normpath(flag) if flag.startswith("-I") else flag for flag in flags]
          or any(os.path.realpath(flag[2:]) == os.path.realpath(os.path.join(prefix, "include"))
                 for flag in flags if flag.startswith("-I")), f"pkg-config --cflags: {flags}")
    program = os.path.join(work, "embed_worker_pkgconfig")
    sanitize = sanitizer_flags(build_dir)
    run(["cc", "-std=c11", "-Wall", "-Wextra", "-Werror", "-D_GNU_SOURCE", *sanitize, EXAMPLE, "-o", program, *flags],
        "cc with pkg-config")
    check_program(program, prefix, "pkg-config")

    # find_package(xinf)
    project = os.path.join(work, "project")
    os.makedirs(project)
    shutil.copy(EXAMPLE, project)
    with open(os.path.join(project, "CMakeLists.txt"), "w") as cmake:
        cmake.write("cmake_minimum_required(VERSION 3.20)\nproject(embed C)\n"
                    "find_package(xinf 0.1 REQUIRED)\nfind_package(PkgConfig REQUIRED)\n"
                    "pkg_check_modules(CZMQ REQUIRED IMPORTED_TARGET libczmq)\n"
                    "add_executable(embed_worker embed_worker.c)\n"
                    "target_compile_options(embed_worker PRIVATE -Wall -Wextra -Werror)\n"
                    "target_compile_definitions(embed_worker PRIVATE _GNU_SOURCE)\n"
                    "target_link_libraries(embed_worker PRIVATE xinf::xinf PkgConfig::CZMQ)\n")
    build = os.path.join(work, "build")
    run(["cmake", "-S", project, "-B", build, f"-DCMAKE_PREFIX_PATH={prefix}", f"-DCMAKE_C_FLAGS={' '.join(sanitize)}"],
        "cmake with find_package(xinf)")
    run(["cmake", "--build", build], "cmake --build")
    check_program(os.path.join(build, "embed_worker"), prefix, "find_package")
    shutil.rmtree(work)
    print("PASS: installed; the example built with pkg-config and with find_package(xinf), and runs")


if __name__ == "__main__":
    main()
