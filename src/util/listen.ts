import type net from "node:net";

/** Starts `server` listening and resolves with the bound address (port 0 picks a free one). */
export async function listenOn(server: net.Server, host: string, port: number): Promise<net.AddressInfo> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return server.address() as net.AddressInfo;
}
