"""The committed stubs are what generate.sh makes from the current proto."""

import filecmp
import shutil
import subprocess
import tempfile
import unittest
from pathlib import Path

import _support

GENERATED = ("shepherd_pb2.py", "shepherd_pb2.pyi", "shepherd_pb2_grpc.py")
PROTOC_VERSION = "libprotoc 3.21.12"


class GenerateTest(unittest.TestCase):
    def test_regenerating_gives_identical_files(self):
        protoc = shutil.which("protoc")
        plugin = shutil.which("grpc_python_plugin")
        if not protoc or not plugin or not Path("/usr/include/google/protobuf/timestamp.proto").exists():
            raise unittest.SkipTest(
                "protoc, grpc_python_plugin or google/protobuf/timestamp.proto missing "
                "(apt-get install protobuf-compiler protobuf-compiler-grpc libprotobuf-dev)")
        have = subprocess.run([protoc, "--version"], capture_output=True, text=True).stdout.strip()
        if have != PROTOC_VERSION:
            raise unittest.SkipTest("protoc is %r, the stubs are generated with %r" % (have, PROTOC_VERSION))
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run([str(_support.PYTHON_DIR / "generate.sh"), tmp], check=True)
            for name in GENERATED:
                with self.subTest(file=name):
                    fresh = Path(tmp, "shepherd_prm", "_proto", name)
                    committed = _support.PYTHON_DIR / "shepherd_prm" / "_proto" / name
                    self.assertTrue(
                        filecmp.cmp(fresh, committed, shallow=False),
                        "%s differs from a fresh generation: run client/python/generate.sh" % committed)

    def test_stub_imports_as_generated(self):
        # The stub's own import of the messages resolves within the package.
        from shepherd_prm._proto import shepherd_pb2, shepherd_pb2_grpc

        self.assertIs(shepherd_pb2_grpc.shepherd__prm_dot___proto_dot_shepherd__pb2, shepherd_pb2)
        self.assertEqual(shepherd_pb2.DESCRIPTOR.package, "shepherd.v1")
        self.assertIn("LabelSolutions", shepherd_pb2.DESCRIPTOR.services_by_name["ShepherdService"].methods_by_name)


if __name__ == "__main__":
    unittest.main()
