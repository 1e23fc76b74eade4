# ferry's front door. Every target installs the Debian packages it needs when they are missing.
#   make demo      calculator server + client over shared memory
#   make examples  the streaming examples, one after the other: make example-ticker (server
#                  streaming), example-upload (client streaming), example-chat (bidi)
#   make test      build and run the whole test suite (ctest)
#   make bench     ferry_bench (Release build), JSON lines on stdout
#   make sanitize  the test suite under ASan+UBSan, then under TSan (all but the consumer
#                  tests, which build an uninstrumented project against ferry)
#   make fuzz      libFuzzer (clang) on the handshake decoders, the segment layout check, the
#                  socket frame reader and call-frame decoder, the shared-memory link's
#                  receiving of descriptors, the mq link's frame reassembly and the schema
#                  check's judge and layout reader, the ferry tool's reading of a
#                  server's binary schema, FUZZ_SECONDS
#                  each (default 60)
JOBS ?= $(shell nproc)
BUILD ?= build
DEPS := cmake make g++ flatbuffers-compiler flatbuffers-compiler-dev libflatbuffers-dev \
        libboost-dev libgtest-dev iproute2
CTEST := ctest --output-on-failure --no-tests=error -j$(JOBS)

.PHONY: all deps build demo examples example-ticker example-upload example-chat test bench \
        sanitize sanitize-address sanitize-thread fuzz clean
FUZZ_SECONDS ?= 60
FUZZ_DEPS := clang libclang-rt-14-dev

all: build

deps:
	@missing=$$(for p in $(DEPS) $(EXTRA_DEPS); do \
	  dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; \
	done); \
	if [ -n "$$missing" ]; then \
	  echo "Installing missing Debian packages:" $$missing; \
	  sudo=$$([ "$$(id -u)" -eq 0 ] || echo sudo); \
	  $$sudo apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

# configure(<dir>, <build type>, <extra cmake args>)
define configure
	@[ -f $(1)/CMakeCache.txt ] || cmake -S . -B $(1) -DCMAKE_BUILD_TYPE=$(2) $(3) >/dev/null
endef

build: deps
	$(call configure,$(BUILD),RelWithDebInfo,)
	cmake --build $(BUILD) -j$(JOBS)

# build_quietly(<targets>): builds only those targets; the compiler's output goes to a log,
# shown only when the build fails.
define build_quietly
	$(call configure,$(BUILD),RelWithDebInfo,)
	@echo "building $(1) (log: $(BUILD)/quiet-build.log)"
	@cmake --build $(BUILD) -j$(JOBS) --target $(1) >$(BUILD)/quiet-build.log 2>&1 || \
	  { cat $(BUILD)/quiet-build.log; exit 1; }
endef

demo: deps
	$(call build_quietly,calculator_server calculator_client)
	@examples/calculator/run_demo.sh $(BUILD)/examples/calculator

examples: example-ticker example-upload example-chat

example-ticker example-upload example-chat: deps
	$(call build_quietly,$(@:example-%=%)_server $(@:example-%=%)_client)
	@examples/$(@:example-%=%)/run.sh $(BUILD)/examples/$(@:example-%=%)

test: build
	cd $(BUILD) && $(CTEST)

# Only the JSON lines go to stdout (make bench > results.json); the build talks on stderr.
bench: deps
	$(call configure,build-release,Release,-DFERRY_BUILD_TESTS=OFF -DFERRY_BUILD_EXAMPLES=OFF)
	@cmake --build build-release -j$(JOBS) --target ferry_bench >&2
	@build-release/bench/ferry_bench $(BENCH_ARGS)

sanitize: sanitize-address sanitize-thread

sanitize-address: deps
	$(call configure,build-asan,Debug,-DFERRY_BUILD_BENCH=OFF \
	  "-DCMAKE_CXX_FLAGS=-fsanitize=address$(comma)undefined -fno-sanitize-recover=all -fno-omit-frame-pointer")
	cmake --build build-asan -j$(JOBS)
	cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 $(CTEST) -LE consumer

sanitize-thread: deps
	$(call configure,build-tsan,Debug,-DFERRY_BUILD_BENCH=OFF "-DCMAKE_CXX_FLAGS=-fsanitize=thread -Wno-tsan")
	cmake --build build-tsan -j$(JOBS)
	cd build-tsan && TSAN_OPTIONS="halt_on_error=1 die_after_fork=0" $(CTEST) -LE consumer

fuzz:
	$(MAKE) deps EXTRA_DEPS="$(FUZZ_DEPS)"
	$(call configure,build-fuzz,RelWithDebInfo,-DCMAKE_CXX_COMPILER=clang++ -DFERRY_BUILD_FUZZ=ON \
	  -DFERRY_BUILD_TESTS=OFF -DFERRY_BUILD_EXAMPLES=OFF -DFERRY_BUILD_BENCH=OFF \
	  "-DCMAKE_CXX_FLAGS=-fsanitize=fuzzer-no-link$(comma)address$(comma)undefined -fno-sanitize-recover=all")
	cmake --build build-fuzz -j$(JOBS) --target handshake_fuzz layout_fuzz frame_fuzz shm_fuzz \
	  mq_fuzz schema_fuzz reflected_schema_fuzz make_seeds
	mkdir -p build-fuzz/corpus/handshake build-fuzz/corpus/layout build-fuzz/corpus/frame \
	  build-fuzz/corpus/shm build-fuzz/corpus/mq build-fuzz/corpus/schema \
	  build-fuzz/corpus/reflected
	cp tests/fuzz/seeds/*.layout build-fuzz/corpus/schema/
	cp tests/fuzz/seeds/*.bfbs build-fuzz/corpus/reflected/
	build-fuzz/tests/fuzz/make_seeds build-fuzz/corpus/handshake build-fuzz/corpus/frame \
	  build-fuzz/corpus/shm build-fuzz/corpus/mq build-fuzz/corpus/reflected
	build-fuzz/tests/fuzz/handshake_fuzz -max_total_time=$(FUZZ_SECONDS) -max_len=70000 \
	  -print_final_stats=1 build-fuzz/corpus/handshake
	build-fuzz/tests/fuzz/layout_fuzz -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	  build-fuzz/corpus/layout
	build-fuzz/tests/fuzz/frame_fuzz -max_total_time=$(FUZZ_SECONDS) -max_len=70000 \
	  -print_final_stats=1 build-fuzz/corpus/frame
	build-fuzz/tests/fuzz/shm_fuzz -max_total_time=$(FUZZ_SECONDS) -max_len=4096 \
	  -print_final_stats=1 build-fuzz/corpus/shm
	build-fuzz/tests/fuzz/mq_fuzz -max_total_time=$(FUZZ_SECONDS) -max_len=8192 \
	  -print_final_stats=1 build-fuzz/corpus/mq
	build-fuzz/tests/fuzz/schema_fuzz -max_total_time=$(FUZZ_SECONDS) -max_len=8192 \
	  -print_final_stats=1 build-fuzz/corpus/schema
	ASAN_OPTIONS=detect_leaks=0 build-fuzz/tests/fuzz/reflected_schema_fuzz \
	  -max_total_time=$(FUZZ_SECONDS) -max_len=16384 -detect_leaks=0 -print_final_stats=1 \
	  build-fuzz/corpus/reflected

clean:
	rm -rf $(BUILD) build-release build-asan build-tsan build-fuzz

comma := ,
