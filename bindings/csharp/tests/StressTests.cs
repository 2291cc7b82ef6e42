using System;
using System.IO;
using System.Linq;
using System.Threading;

namespace Libprov.Tests
{
    /// <summary>10,000 create/free cycles with bounded RSS.</summary>
    public class StressTests
    {
        /// <summary>A leak of 200 bytes per cycle would exceed this over 10,000 cycles.</summary>
        private const long MaxGrowthKb = 2048;

        private static long RssKb()
        {
            string line = File.ReadLines("/proc/self/status").First(l => l.StartsWith("VmRSS:"));
            return long.Parse(new string(line.Where(char.IsDigit).ToArray()));
        }

        private static ProvisioningDeviceClient NewClient()
        {
            return ProvisioningDeviceClient.CreateFromSymmetricKey("localhost:8883", "cs-stress", TestEmulator.IdScope, TestEmulator.DeviceKey,
                new ProvisioningClientOptions
                {
                    KeepAlive = TimeSpan.FromSeconds(30),
                    Cipher = "ECDHE-RSA-AES128-GCM-SHA256",
                    ProvisioningPayload = "{\"n\":1}"
                });
        }

        /// <summary>Lets the collector and the finalizer thread free what is unreachable.</summary>
        private static void Settle()
        {
            for (int i = 0; i < 3; i++)
            {
                GC.Collect();
                GC.WaitForPendingFinalizers();
            }
            Thread.Sleep(50);
        }

        /// <summary>
        /// RSS growth over 10,000 cycles after as many for warm-up: undisposed clients stay alive
        /// until a collection, and glibc keeps that high-water mark; a leak grows again in the
        /// second round.
        /// </summary>
        private static long GrowthKb(Action cycle)
        {
            for (int i = 0; i < 10000; i++) cycle();
            Settle();
            long before = RssKb();
            for (int i = 0; i < 10000; i++) cycle();
            Settle();
            return RssKb() - before;
        }

        [Test]
        public void CreateDispose()
        {
            long growth = GrowthKb(() => NewClient().Dispose());
            Console.Write("(growth {0} kB) ", growth);
            Assert.True(growth < MaxGrowthKb, "RSS grew by " + growth + " kB");
        }

        [Test]
        public void UsingStatement()
        {
            long growth = GrowthKb(() =>
            {
                using (var client = NewClient())
                {
                    Assert.True(!client.IsDisposed, "disposed too early");
                }
            });
            Console.Write("(growth {0} kB) ", growth);
            Assert.True(growth < MaxGrowthKb, "RSS grew by " + growth + " kB");
        }

        [Test]
        public void ClientsLeftToFinalizers()
        {
            long growth = GrowthKb(() => NewClient());
            Console.Write("(growth {0} kB) ", growth);
            Assert.True(growth < MaxGrowthKb, "RSS grew by " + growth + " kB");
        }
    }
}
