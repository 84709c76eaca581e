"""The tooling around the function: the CLI, the offline demo on an emulated AWS, the upstream
contract emulator and the synthetic license generator. Never deployed to Lambda."""
