using System;
using System.Diagnostics;
using System.Linq;
using System.Reflection;

namespace Libprov.Tests
{
    /// <summary>Marks a public method (static or not, no parameters) of a public class as a test.</summary>
    [AttributeUsage(AttributeTargets.Method)]
    public sealed class TestAttribute : Attribute { }

    /// <summary>Marks a static method run once before the tests (e.g. starting dps-emulator).</summary>
    [AttributeUsage(AttributeTargets.Method)]
    public sealed class SetUpFixtureAttribute : Attribute { }

    /// <summary>Marks a static method run once after the tests.</summary>
    [AttributeUsage(AttributeTargets.Method)]
    public sealed class TearDownFixtureAttribute : Attribute { }

    public sealed class AssertionException : Exception
    {
        public AssertionException(string message) : base(message) { }
    }

    public static class Assert
    {
        public static void True(bool condition, string message)
        {
            if (!condition) throw new AssertionException(message);
        }

        public static void Equal<T>(T expected, T actual, string what = "value")
        {
            if (!Equals(expected, actual))
                throw new AssertionException(string.Format("{0}: expected <{1}>, got <{2}>", what, expected, actual));
        }

        public static T Throws<T>(Action action) where T : Exception
        {
            try
            {
                action();
            }
            catch (T expected)
            {
                return expected;
            }
            catch (Exception other)
            {
                throw new AssertionException(string.Format("expected {0}, got {1}: {2}", typeof(T).Name, other.GetType().Name, other.Message));
            }
            throw new AssertionException("expected " + typeof(T).Name + ", nothing was thrown");
        }
    }

    /// <summary>
    /// A minimal xunit-style runner (NUnit is not in Debian, NuGet not reachable): runs every
    /// [Test] method of this assembly, or those whose names contain one of the arguments, and prints
    /// "N passed, N failed" as its last line. Exit code 0 only when all passed (and at least one ran).
    /// </summary>
    public static class TestRunner
    {
        private static MethodInfo[] Marked<T>(Type[] types) where T : Attribute
        {
            return types.SelectMany(type => type.GetMethods())
                .Where(method => method.GetCustomAttributes(typeof(T), false).Length > 0)
                .OrderBy(method => method.MetadataToken).ToArray();
        }

        private static Exception Unwrap(Exception e)
        {
            return e is TargetInvocationException && e.InnerException != null ? e.InnerException : e;
        }

        public static int Main(string[] args)
        {
            string[] filters = args.Length > 0 ? args : new[] { "" };
            Type[] types = Assembly.GetExecutingAssembly().GetTypes().Where(t => t.IsPublic).OrderBy(t => t.FullName).ToArray();
            int passed = 0, failed = 0;
            try
            {
                foreach (MethodInfo setUp in Marked<SetUpFixtureAttribute>(types)) setUp.Invoke(null, null);
            }
            catch (Exception e)
            {
                Exception cause = Unwrap(e);
                Console.WriteLine("set-up failed: " + cause.GetType().Name + ": " + cause.Message);
                Console.WriteLine("0 passed, 1 failed");
                return 1;
            }
            try
            {
                foreach (MethodInfo test in Marked<TestAttribute>(types))
                {
                    string name = test.DeclaringType.Name + "." + test.Name;
                    if (!filters.Any(filter => name.Contains(filter))) continue;
                    Console.Write(name + " ... ");
                    var watch = Stopwatch.StartNew();
                    try
                    {
                        object instance = test.IsStatic ? null : Activator.CreateInstance(test.DeclaringType);
                        test.Invoke(instance, null);
                        passed++;
                        Console.WriteLine("ok ({0} ms)", watch.ElapsedMilliseconds);
                    }
                    catch (Exception e)
                    {
                        failed++;
                        Exception cause = Unwrap(e);
                        Console.WriteLine("FAILED ({0} ms)", watch.ElapsedMilliseconds);
                        Console.WriteLine("    " + cause.GetType().Name + ": " + cause.Message);
                        Console.WriteLine(cause.StackTrace);
                    }
                }
            }
            finally
            {
                foreach (MethodInfo tearDown in Marked<TearDownFixtureAttribute>(types)) tearDown.Invoke(null, null);
            }
            Console.WriteLine("{0} passed, {1} failed", passed, failed);
            return failed == 0 && passed > 0 ? 0 : 1;
        }
    }
}
