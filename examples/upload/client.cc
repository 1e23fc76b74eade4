// upload_client [endpoint] [frames]: uploads `frames` (default 32) frames of 8 MiB to
// upload.Uploader, each built in place in a shared-memory slot, and checks the server's digest.
// Prints the throughput and the payload bytes the channel copied (none on shm://).
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <iomanip>
#include <iostream>

#include "ferry/ferry.h"
#include "frame_hash.h"
#include "upload.ferry.h"

int main(int argc, char** argv) {
  const char* endpoint = argc > 1 ? argv[1] : "shm://upload";
  const uint64_t frames = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 32;
  constexpr size_t kFrameBytes = 8 << 20;

  ferry::Result<ferry::Channel> channel = ferry::Connect(endpoint);
  if (!channel.ok()) {
    std::cerr << "client: " << channel.status() << '\n';
    return 1;
  }
  upload::Uploader::Client uploader(*channel);

  const auto start = std::chrono::steady_clock::now();
  auto upload = uploader.Upload();
  uint64_t hash = upload::kHashStart;
  for (uint64_t seq = 0; seq < frames; ++seq) {
    // A hint of the whole message (pixels plus ~1 KiB of FlatBuffers overhead) puts it in a
    // slot big enough from the start: nothing is grown, nothing is copied.
    auto frame = upload.NewMessage(kFrameBytes + 1024);
    uint8_t* pixels = nullptr;
    auto vector = frame.fbb().CreateUninitializedVector(kFrameBytes, &pixels);
    hash = upload::FillFrame(pixels, kFrameBytes, seq, hash);  // written straight into the slot
    frame.Finish(upload::CreateFrame(frame.fbb(), seq, vector));
    // Blocks while the server is a window behind; not OK once the call has ended.
    if (!upload.Write(std::move(frame)).ok()) break;
  }
  ferry::Result<ferry::MessageView<upload::Digest>> digest = upload.Finish();
  const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
  if (!digest.ok()) {
    std::cerr << "client: Upload: " << digest.status() << '\n';
    return 1;
  }

  const uint64_t bytes = frames * kFrameBytes;
  const bool intact = (*digest)->frames() == frames && (*digest)->bytes() == bytes &&
                      (*digest)->hash() == hash;
  std::cout << "client: " << frames << " frames of 8 MiB over " << channel->transport() << " in "
            << std::fixed << std::setprecision(2) << elapsed.count() << " s: "
            << std::setprecision(0) << bytes / elapsed.count() / 1e6
            << " MB/s (filling and hashing every byte included)\n"
            << "client: the server's digest " << (intact ? "matches" : "DOES NOT match")
            << " what was sent\n"
            << "client: channel.bytes_copied() = " << channel->bytes_copied() << '\n';
  return intact ? 0 : 1;
}
