// Compile-time stand-in for the few UnityEngine types the chat sample uses,
// so dotnet/run-tests.sh can type-check Samples~ and the Runtime under
// Unity's defines (UNITY_5_3_OR_NEWER: AOT.MonoPInvokeCallbackAttribute then
// comes from UnityEngine, as in a Unity build). Never shipped, never run.
using System;

namespace UnityEngine
{
    public class Object { }
    public class Component : Object { }
    public class Behaviour : Component { }
    public class MonoBehaviour : Behaviour { }
    public static class Debug { public static void Log(object message) { } }
    public struct Rect { public Rect(float x, float y, float width, float height) { } }
    public sealed class GUILayoutOption { }
    public static class GUILayout
    {
        public static void BeginArea(Rect r) { }
        public static void EndArea() { }
        public static void BeginHorizontal(params GUILayoutOption[] o) { }
        public static void EndHorizontal() { }
        public static void Label(string text, params GUILayoutOption[] o) { }
        public static string TextField(string text, params GUILayoutOption[] o) { return text; }
        public static bool Button(string text, params GUILayoutOption[] o) { return false; }
        public static GUILayoutOption Width(float w) { return new GUILayoutOption(); }
    }
}

namespace AOT
{
    [AttributeUsage(AttributeTargets.Method)]
    public sealed class MonoPInvokeCallbackAttribute : Attribute
    {
        public MonoPInvokeCallbackAttribute(Type type) { }
    }
}
