from setuptools import find_packages, setup

setup(
    name="minihs",
    version="0.1.0",
    description="A small Matrix homeserver: accounts, rooms, membership and the Mutual Rooms API",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(include=["minihs", "minihs.*"]),
    # The sample configuration ships inside the package, where an installed minihs finds it
    # (importlib.resources); the checkout's root config.sample.yaml is a symlink to it. The
    # inspector page's files (served at /_minihs/) ship the same way.
    package_data={"minihs": ["openapi.json", "config.sample.yaml", "api/inspector/*"]},
    install_requires=[
        "aiohttp>=3.9",
        "pyyaml>=6.0",
        "canonicaljson>=2.0",
        # Response and event encoding: ~7x the stdlib's speed, same bytes (see minihs/spec/json_codec.py).
        "orjson>=3.9",
        # argon2id password hashing, OWASP's first choice (see minihs/domain/passwords.py).
        "argon2-cffi>=21.2",
        # The event loop in C (libuv): ~40 µs less server CPU per request (see minihs/api/event_loop.py).
        # It has no Windows build; there minihs runs on asyncio's own loop.
        'uvloop>=0.19; sys_platform != "win32" and platform_python_implementation == "CPython"',
    ],
    extras_require={
        "test": [
            "pytest>=8",
            "pytest-aiohttp>=1.0",
            "pytest-xdist>=3.5",
            "hypothesis>=6.100",
            # Real clients driven by tests/clients (pinned: the versions proven there).
            "matrix-nio==0.26.0",
            "mautrix==0.21.1",
            # Fuzzes minihs against the official definitions and its own document (tests/test_fuzz.py).
            "schemathesis==4.32.5",
            # States the layer contracts (api -> domain -> store -> spec) and checks them.
            "import-linter>=2.0",
            # tests/test_packaging.py builds minihs's wheel without build isolation; setuptools
            # before 70.1 (Python 3.11's venv seeds 65.5) needs this package for bdist_wheel.
            "wheel>=0.40",
            # Imported by tests directly; named here rather than left to arrive through another
            # package's dependencies. tests/spec_schemas.py validates against the spec's schemas
            # (jsonschema's `referencing` registry, 4.18+); tests/test_lockfile.py parses
            # requirements; tests/test_protocol.py builds URLs; the fuzz driver calls over HTTP.
            "jsonschema>=4.18",
            "referencing>=0.30",
            "packaging>=23",
            "yarl>=1.9",
            "requests>=2.31",
            # Drives Debian's Chromium in the inspector's browser test (tests/browser/); the
            # browser itself comes from scripts/install_browser.sh, never from Playwright.
            "playwright>=1.40",
        ],
        # scripts/bench.py --plot draws the mutual_rooms scaling curve.
        "bench": ["matplotlib"],
    },
    entry_points={
        "console_scripts": ["minihs = minihs.__main__:main"],
        # The fixtures (minihs_server, minihs, minihs_user...) for any project that installs us.
        "pytest11": ["minihs = minihs.testing.pytest_plugin"],
    },
)
